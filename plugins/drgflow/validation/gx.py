"""Great Expectations over audit.rule_flags: the suite `case_rules` (one expect_column_values_to_be_null per
active rule), its checkpoint and the Data Docs site of each warehouse database."""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from drgflow import config, db
from drgflow.errors import UserError
from drgflow.validation.catalogue import GX_DIR, Catalogue, Rule

SUITE_NAME = "case_rules"


def gx_output_dir(url: str) -> Path:
    """Where GX writes for this warehouse database: DRGFLOW_HOME/gx/<database>."""
    path = config.home() / "gx" / db.conn_params(url)["dbname"]
    path.mkdir(parents=True, exist_ok=True)
    return path


def sqlalchemy_url(url: str) -> str:
    """The warehouse URL in SQLAlchemy form (psycopg 3 driver), socket directories included."""
    from sqlalchemy.engine import URL  # noqa: PLC0415 - for GX only

    p = conninfo_to_dict(url)
    host = str(p.get("host") or "localhost")
    query = {}
    if host.startswith("/"):
        query["host"] = host
        if p.get("port"):
            query["port"] = str(p["port"])
        host_arg, port_arg = None, None
    else:
        host_arg, port_arg = host, int(p["port"]) if p.get("port") else None
    u = URL.create("postgresql+psycopg", username=p.get("user") or None, password=p.get("password") or None,
                   host=host_arg, port=port_arg, database=p.get("dbname"), query=query)
    return u.render_as_string(hide_password=False)


def _gx_context(url: str):
    """The file-mode GX context of the project (expectations/)."""
    import great_expectations as gx  # noqa: PLC0415 - GX imports slowly; validation only

    return gx.get_context(mode="file", context_root_dir=str(GX_DIR))


def build_suite(cat: Catalogue, active: list[tuple[Rule, str]], fingerprint: str = ""):
    """The GX suite of the catalogue: row count (a run parameter) plus one expect_column_values_to_be_null
    per active rule, severity critical (reject) or warning (warn)."""
    import great_expectations as gx  # noqa: PLC0415 - GX imports slowly; validation only
    from great_expectations.expectations.metadata_types import FailureSeverity  # noqa: PLC0415 - as above

    suite = gx.ExpectationSuite(name=SUITE_NAME, meta={"catalogue": cat.name, "catalogue_version": cat.version,
                                                       "fingerprint": fingerprint})
    suite.add_expectation(gx.expectations.ExpectTableRowCountToEqual(
        value={"$PARAMETER": "rows_read"},
        description="every row read from the file has its rule flags (nothing lost)"))
    for rule, _ in active:
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeNull(
            column=rule.id,
            severity=FailureSeverity.CRITICAL if rule.severity == "reject" else FailureSeverity.WARNING,
            description=f"[{rule.severity}] {rule.id}: {rule.message()}",
            meta={"rule": rule.id, "severity": rule.severity, "check": rule.check,
                  "catalogue_version": cat.version},
        ))
    return suite


def _checkpoint(context, cat: Catalogue, active: list[tuple[Rule, str]]):
    """The checkpoint validate_case_batch, rebuilt (suite, validation definition, checkpoint) only when
    the active rules changed: rewriting them for every batch cost more than validating a small one."""
    import great_expectations as gx  # noqa: PLC0415 - GX imports slowly; validation only
    from great_expectations.checkpoint import UpdateDataDocsAction  # noqa: PLC0415 - as above

    fingerprint = hashlib.sha256(json.dumps(
        [cat.version, [(r.id, r.severity, r.message(), r.check) for r, _ in active]],
        ensure_ascii=False).encode()).hexdigest()[:16]
    try:
        checkpoint = context.checkpoints.get("validate_case_batch")
        suite = context.suites.get(SUITE_NAME)
        if suite.meta.get("fingerprint") == fingerprint:
            return checkpoint
    except Exception:  # noqa: BLE001 - absent or unreadable: rebuilt below
        pass
    for store, name in ((context.checkpoints, "validate_case_batch"),
                        (context.validation_definitions, "case_rules_current_batch"),
                        (context.suites, SUITE_NAME)):
        with contextlib.suppress(Exception):
            store.delete(name)
    suite = context.suites.add(build_suite(cat, active, fingerprint))
    batch_def = (context.data_sources.get("drgflow_warehouse").get_asset("case_rule_flags")
                 .get_batch_definition("current_batch"))
    vd = context.validation_definitions.add(
        gx.ValidationDefinition(name="case_rules_current_batch", data=batch_def, suite=suite))
    return context.checkpoints.add(gx.Checkpoint(
        name="validate_case_batch", validation_definitions=[vd],
        actions=[UpdateDataDocsAction(name="update_data_docs", site_names=["local_site"])],
        result_format={"result_format": "SUMMARY", "unexpected_index_column_names": ["source_row"],
                       "partial_unexpected_count": 20},
    ))


def run_gx(url: str, cat: Catalogue, active: list[tuple[Rule, str]], batch_id: int, file_name: str,
           rows: int) -> tuple[bool, Path, dict[str, int]]:
    """Validate audit.rule_flags with GX and update Data Docs: (success, page path, unexpected count per rule)."""
    from great_expectations.core.run_identifier import RunIdentifier  # noqa: PLC0415 - GX imports slowly

    out = gx_output_dir(url)
    env = {"DRGFLOW_GX_OUTPUT": str(out), "DRGFLOW_GX_CONNECTION": sqlalchemy_url(url)}
    with config.environ(env):
        context = _gx_context(url)
        checkpoint = _checkpoint(context, cat, active)
        result = checkpoint.run(expectation_parameters={"rows_read": rows},
                                run_id=RunIdentifier(run_name=f"batch_{batch_id}_{_slug(file_name)}"))
        key, vres = next(iter(result.run_results.items()))
        urls = context.get_docs_sites_urls(resource_identifier=key, site_name="local_site")
    page = Path(urls[0]["site_url"].removeprefix("file://")) if urls else out / "data_docs" / "index.html"
    counts = {}
    for r in vres.results:
        column = r.expectation_config.kwargs.get("column")
        if column:
            counts[column] = int(r.result.get("unexpected_count") or 0)
        elif not r.success:
            raise UserError(f"batch {batch_id}: Great Expectations counted {r.result.get('observed_value')} "
                            f"flagged rows for {rows} read")
    return bool(result.success), page, counts


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80]
