"""drgflow: an open DRG points payment pipeline (CHS-DRG grouping, statistics, settlement)."""

__version__ = "0.1.0"
