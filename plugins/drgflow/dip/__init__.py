"""DIP (按病种分值付费, ../shared/docs/dip-spec.md): catalogues, grouping, scores and coefficients."""
