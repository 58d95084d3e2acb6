"""Grouping scheme packs: parsing the published text layout and importing it into ref tables."""
