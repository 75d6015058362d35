"""mocap: markerless motion capture from ordinary video to production animation."""

__version__ = "0.1.0"
