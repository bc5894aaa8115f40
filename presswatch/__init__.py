"""presswatch: the shared kernel (errors and settings) of the media-monitoring pipeline."""

__version__ = "0.1.0"
