"""Great Expectations Data Docs for every validated version, written beside the warehouse.

`validation.validate_table` runs GX in a throwaway context and keeps its verdict as plain data,
which the version's manifest stores. This module turns a manifest's verdict back into a GX
validation result and lets GX's own site builder render it, so the pages are ordinary GX Data
Docs: `<warehouse>/data_docs/index.html` lists the validations, newest first, and links to one
page per validated version. The results behind the site are kept in a file-backed GX store under
`<warehouse>/data_docs/_gx/`, because GX rebuilds the index from its stores and drops pages whose
results it cannot find.

Expectations come from the set's suite (`schemas.expectations`). recaug's own checks render as
their closest GX form: the row-count band as a row-count expectation, any other check (ids
present in id_maps) as an "unexpected rows" expectation whose observed value is the number of
offending rows.
"""

from __future__ import annotations

import datetime as dt
import os

import great_expectations as gx
from great_expectations.core import (
    ExpectationSuiteValidationResult,
    ExpectationValidationResult,
)
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import DataContextConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.expectations.expectation_configuration import (
    ExpectationConfiguration,
)

from schemas.registry import build_suite
from storage.locks import warehouse_lock
from storage.warehouse import Warehouse

DATA_DOCS_DIR = "data_docs"
SITE = "recaug"
# Every build reads each result the index lists, so the index keeps to the newest ones (by
# version creation time); older pages stay on disk, unlisted, and GX renders none older.
INDEX_LIMIT = 500
LOCK_TIMEOUT_S = 120.0


def data_docs_root(wh: Warehouse) -> str:
    # GX writes sites through local paths; a warehouse on an object store keeps its docs locally.
    return wh.path(DATA_DOCS_DIR) if wh.is_local else os.path.abspath(DATA_DOCS_DIR)


def write_validation_docs(wh: Warehouse, manifest: dict) -> str:
    """Render the Data Docs page of a version's validation and refresh the index.

    `manifest` is a version's manifest (published or blocked) whose `validation` a gate filled.
    Returns the page's file:// URL, for asset metadata to link to.
    """
    if manifest["validation"] is None:
        raise ValueError(f"{manifest['set']} version {manifest['version']} was published without validation")
    root = data_docs_root(wh)
    # One build at a time: two builders would interleave writes to the shared index page.
    with warehouse_lock(wh, DATA_DOCS_DIR, LOCK_TIMEOUT_S):
        context = gx.get_context(project_config=_project_config(root))
        columns = [field["name"] for field in manifest["schema"]]  # the version's own (resolved) schema
        suite = context.suites.add_or_update(build_suite(manifest["set"], columns))
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
            run_id=RunIdentifier(
                run_name=manifest["version"], run_time=dt.datetime.fromisoformat(manifest["created_at"])
            ),
            batch_identifier=manifest["set"],
        )
        context.validation_results_store.set(key, _to_gx_result(suite, manifest, key.run_id))
        context.build_data_docs(
            site_names=[SITE], resource_identifiers=[key, ExpectationSuiteIdentifier(name=suite.name)]
        )
        (site,) = context.get_docs_sites_urls(resource_identifier=key, site_name=SITE)
    if site["site_url"] is None:
        # GX logs a rendering error and carries on, leaving the page unwritten.
        raise RuntimeError(f"GX did not render the Data Docs page of {manifest['set']} {manifest['version']}")
    return site["site_url"]


def _project_config(root: str) -> DataContextConfig:
    def filesystem(directory: str) -> dict:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": directory}

    return DataContextConfig(
        stores={
            "expectations_store": {
                "class_name": "ExpectationsStore",
                "store_backend": filesystem(f"{root}/_gx/expectations"),
            },
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": filesystem(f"{root}/_gx/validations"),
            },
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        data_docs_sites={
            SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": filesystem(root),
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "validation_results_limit": INDEX_LIMIT,
                },
            }
        },
        analytics_enabled=False,
    )


def _to_gx_result(
    suite: gx.ExpectationSuite, manifest: dict, run_id: RunIdentifier
) -> ExpectationSuiteValidationResult:
    """The GX validation result equivalent to a manifest's verdict (ValidationReport.as_dict())."""
    verdict = manifest["validation"]
    configurations = {_subject(e.configuration): e.configuration for e in suite.expectations}
    results = [_to_gx_check(check, verdict["row_count"], configurations) for check in verdict["results"]]
    successful = sum(r.success for r in results)
    return ExpectationSuiteValidationResult(
        success=verdict["passed"],
        results=results,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": len(results),
            "successful_expectations": successful,
            "unsuccessful_expectations": len(results) - successful,
            "success_percent": 100 * successful / len(results) if results else None,
        },
        meta={
            "great_expectations_version": gx.__version__,
            "run_id": run_id,
            "batch_spec": {"data_asset_name": f"published/{manifest['set']}/{manifest['version']}"},
        },
    )


def _subject(configuration: ExpectationConfiguration) -> tuple[str, str | None]:
    """(type, column) as validation.CheckResult names an expectation."""
    if configuration.type == "expect_table_columns_to_match_ordered_list":
        return configuration.type, None
    kwargs = configuration.kwargs
    return configuration.type, kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or None


def _to_gx_check(check: dict, row_count: int, configurations: dict) -> ExpectationValidationResult:
    configuration = configurations.get((check["name"], check["column"]))
    if configuration is not None:
        result = {"observed_value": check["observed"]} if check["observed"] is not None else {}
        if check["unexpected_count"] is not None:
            result |= {
                "element_count": row_count,
                "unexpected_count": check["unexpected_count"],
                "unexpected_percent": 100 * check["unexpected_count"] / row_count if row_count else 0.0,
                "partial_unexpected_list": check["sample_values"],
            }
    elif check["name"] == "row_count_change_within_band":
        observed = check["observed"]
        low, high = observed["band"]
        configuration = gx.expectations.ExpectTableRowCountToBeBetween(
            min_value=low * observed["previous_rows"],
            max_value=high * observed["previous_rows"],
            description=f"Row count between {low} and {high} times the previous version's "
            f"{observed['previous_rows']} rows",
            meta={"severity": check["severity"]},
        ).configuration
        result = {"observed_value": observed["rows"]}
    else:
        subject = f" on {check['column']}" if check["column"] else ""
        configuration = gx.expectations.UnexpectedRowsExpectation(
            unexpected_rows_query=f"SELECT * FROM {{batch}} -- rows failing recaug's {check['name']} check",
            description=f"recaug check {check['name']}{subject}",
            meta={"severity": check["severity"]},
        ).configuration
        result = {
            "observed_value": check["unexpected_count"],
            "details": {"unexpected_rows": check["sample_rows"]},
        }
    exception_info = (
        # GX's renderer needs a string traceback; the message is all a recaug check has.
        {"raised_exception": True, "exception_message": check["message"], "exception_traceback": check["message"]}
        if check["message"]
        else None
    )
    return ExpectationValidationResult(
        success=check["success"],
        expectation_config=configuration,
        result=result,
        exception_info=exception_info,
    )
