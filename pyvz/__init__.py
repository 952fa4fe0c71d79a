"""pyvz: OpenVZ-style virtual environments on a stock Linux kernel."""

__version__ = "0.1.0"
