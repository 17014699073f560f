import json
import logging
from pathlib import Path

import pytest

from flags import FlagGateConfig, Knobs, KnobsPayloadError, build_flag_gate, parse_knobs
from tests.flags.flag_documents import rollout_feature, tuning_feature, write


def payload(value: object) -> dict:
    return {"type": "json", "value": json.dumps(value)}


def test_payload_sets_all_three_knobs():
    knobs = parse_knobs(payload({"max_connections_per_user": 3, "ping_interval": 12.5, "batch_window_ms": 20}))
    assert knobs == Knobs(max_connections_per_user=3, ping_interval=12.5, batch_window_ms=20)


def test_no_payload_means_use_the_settings():
    assert parse_knobs(None) == Knobs()
    assert parse_knobs(payload({})) == Knobs()


@pytest.mark.parametrize(
    "knob, low, high",
    [
        ("max_connections_per_user", 1, 100),
        ("ping_interval", 1, 300),
        ("batch_window_ms", 0, 1000),
    ],
)
def test_bounds_are_inclusive(knob, low, high):
    assert getattr(parse_knobs(payload({knob: low})), knob) == low
    assert getattr(parse_knobs(payload({knob: high})), knob) == high
    for outside in (low - 1, high + 1):
        with pytest.raises(KnobsPayloadError, match=knob):
            parse_knobs(payload({knob: outside}))


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"max_connections_per_user": 2.5}, "whole number"),
        ({"batch_window_ms": "10"}, "must be a number"),
        ({"max_connections_per_user": True}, "must be a number"),
        ({"ping_interval": None}, "must be a number"),
        ({"ping_intervall": 5}, "unknown knob"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_payload_is_refused_whole(bad, message):
    with pytest.raises(KnobsPayloadError, match=message):
        parse_knobs(payload(bad))


def test_non_json_payloads_are_refused():
    with pytest.raises(KnobsPayloadError, match="valid JSON"):
        parse_knobs({"type": "json", "value": "{ping_interval: 5"})
    with pytest.raises(KnobsPayloadError, match="type must be json"):
        parse_knobs({"type": "string", "value": "5"})
    with pytest.raises(KnobsPayloadError, match="within"):
        parse_knobs({"type": "json", "value": '{"ping_interval": NaN}'})


async def test_gate_applies_a_good_variant_payload(tmp_path: Path):
    flags_file = write(
        tmp_path / "flags.json",
        rollout_feature(),
        tuning_feature(json.dumps({"ping_interval": 7, "max_connections_per_user": 2})),
    )
    gate = build_flag_gate(FlagGateConfig(flags_file=str(flags_file)))
    await gate.start()
    try:
        assert gate.knobs("alice") == Knobs(max_connections_per_user=2, ping_interval=7.0)
    finally:
        await gate.stop()


async def test_gate_logs_a_bad_payload_once_and_never_applies_it(tmp_path: Path, caplog):
    flags_file = write(
        tmp_path / "flags.json", rollout_feature(), tuning_feature(json.dumps({"ping_interval": 0, "batch_window_ms": 5}))
    )
    gate = build_flag_gate(FlagGateConfig(flags_file=str(flags_file)))
    await gate.start()
    try:
        with caplog.at_level(logging.WARNING, logger="flags"):
            answers = {gate.knobs(f"user-{n}") for n in range(50)}
        assert answers == {Knobs()}
        warnings = [r for r in caplog.records if "sse-tuning" in r.getMessage()]
        assert len(warnings) == 1
        assert "ping_interval must be within 1..300, got 0" in warnings[0].getMessage()
    finally:
        await gate.stop()


async def test_gate_without_tuning_flag_gives_empty_knobs(tmp_path: Path):
    gate = build_flag_gate(FlagGateConfig(flags_file=str(write(tmp_path / "flags.json", rollout_feature()))))
    await gate.start()
    try:
        assert gate.knobs("alice") == Knobs()
    finally:
        await gate.stop()
