"""app.tune_collector: the serving process's garbage collector, tuned once the lifespan has
started, and only when asked (tests and embedding applications keep theirs)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from conftest import TEST_API_KEY, make_settings
from starlette.testclient import TestClient

from sqlgateway.app import SERVING_GC_THRESHOLDS, create_app
from sqlgateway.demo.database import DemoDatabase


@pytest.fixture
def collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def _answers(app: object) -> tuple[int, ...]:
    with TestClient(app, headers={"Authorization": f"Bearer {TEST_API_KEY}"}) as client:  # type: ignore[arg-type]
        assert client.post("/query", json={"sql": "SELECT 1 AS one"}).status_code == 200
        return gc.get_threshold()


def test_the_serving_app_tunes_the_collector(demo: DemoDatabase, collector_restored: None) -> None:
    gc.unfreeze()
    assert _answers(create_app(make_settings(demo), tune_gc=True)) == SERVING_GC_THRESHOLDS
    assert gc.get_freeze_count() > 10_000  # the start-up heap: modules, sqlglot, the app


def test_other_apps_leave_the_collector_alone(demo: DemoDatabase, collector_restored: None) -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    assert _answers(create_app(make_settings(demo))) == before
    assert gc.get_freeze_count() == 0
