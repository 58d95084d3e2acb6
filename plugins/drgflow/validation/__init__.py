"""Case-batch validation: the rule catalogue (expectations/rules/case_rules.yml) run set-based in PostgreSQL,
checked by Great Expectations, with row-level quarantine.

One module per job: catalogue (reading and checking the rules), checks/ (one module per check kind),
rows (the flags statement), reference (reference tables it reads), gx (Great Expectations and Data Docs),
gate (validating a batch and recording what it found). This package's public names are below.
"""
from drgflow.validation.catalogue import CATALOGUE, Catalogue, Rule, catalogue_path, load_catalogue
from drgflow.validation.gate import flag_batch, validate_batch, validate_pending
from drgflow.validation.gx import gx_output_dir, sqlalchemy_url
from drgflow.validation.reference import ensure_terminology

__all__ = ["CATALOGUE", "Catalogue", "Rule", "catalogue_path", "ensure_terminology", "flag_batch", "gx_output_dir",
           "load_catalogue", "sqlalchemy_url", "validate_batch", "validate_pending"]
