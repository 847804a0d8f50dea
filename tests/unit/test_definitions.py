import datetime as dt

import dagster as dg

from dagster_project.definitions import defs
from dagster_project.partitions import end_of_day


def test_asset_graph_has_every_layer():
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/interactions", "raw/reviews", "raw/items", "raw/quarantine"} <= keys
    assert {
        "features/clean_interactions",
        "features/id_maps",
        "features/splits",
        "features/user_features",
        "features/item_features",
        "features/user_sequences",
        "features/i2i_pairs",
        "features/review_bundles",
    } <= keys
    assert {
        "published/interactions_train",
        "published/interactions_valid",
        "published/interactions_test",
        "published/user_sequences",
        "published/user_features",
        "published/item_features",
        "published/i2i_pairs",
        "published/id_maps",
    } <= keys


def test_published_sets_depend_on_their_features():
    graph = defs.resolve_asset_graph()
    parents = graph.get(dg.AssetKey(["published", "interactions_test"])).parent_keys
    assert parents == {dg.AssetKey(["features", "splits"]), dg.AssetKey(["features", "id_maps"])}
    checks = graph.get(dg.AssetKey(["published", "interactions_test"])).check_keys
    assert [c.name for c in checks] == ["contract"]


def test_nightly_schedule_requests_yesterdays_partition():
    schedule = defs.resolve_schedule_def("nightly_refresh")
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 23, 1, 30, tzinfo=dt.timezone.utc)
    )
    requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-11-22"]


def test_partition_as_of_is_the_last_second_of_the_day():
    assert end_of_day("2018-05-20") == dt.datetime(2018, 5, 20, 23, 59, 59, tzinfo=dt.timezone.utc)
