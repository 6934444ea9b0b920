"""archiver: archive social-media posts and the pages they link to, with their provenance."""

__version__ = "0.1.0"
