"""r.calibration on scripted answers whose reported probabilities and sampled frequencies are known."""

import math

import pytest

from or_magic import complete
from or_magic.core.errors import InvalidOption

MODEL = "openai/gpt-4o-mini"


def sweep(n: int = 10, **options):
    return complete("Is the sky blue?", model=MODEL, samples=n, temperature=1, top_logprobs=5, max_tokens=1,
                    progress=False, **options)


def test_perfectly_calibrated_script_has_zero_ece(server):
    server.script_first_token({"Yes": 0.7, "No": 0.3}, ["Yes"] * 7 + ["No"] * 3)
    cal = sweep().calibration()
    assert list(cal.columns) == ["label", "reported_prob", "sampled_freq", "count", "runs", "gap", "stderr"]
    assert list(cal.label) == ["Yes", "No"]
    assert [round(x, 9) for x in cal.reported_prob] == [0.7, 0.3]
    assert list(cal.sampled_freq) == [0.7, 0.3] and list(cal["count"]) == [7, 3] and list(cal.runs) == [10, 10]
    assert all(abs(g) < 1e-9 for g in cal.gap)
    assert math.isclose(cal.stderr[0], math.sqrt(0.7 * 0.3 / 10))
    assert cal.attrs["ece"] < 1e-9
    # Brier: 7 runs score (0.3² + 0.3²), 3 runs score (0.7² + 0.7²)
    assert math.isclose(cal.attrs["brier"], (7 * 0.18 + 3 * 0.98) / 10)
    assert any("N = 10" in n for n in cal.attrs["notes"])  # 10 runs are too few to say much


def test_badly_calibrated_script_has_a_large_ece(server):
    server.script_first_token({"Yes": 0.9, "No": 0.1}, ["Yes", "No"] * 5)
    cal = sweep().calibration(bins=10)
    assert [round(g, 9) for g in cal.gap] == [-0.4, 0.4]
    assert math.isclose(cal.attrs["ece"], 0.4)
    bins = cal.attrs["reliability"]
    assert list(bins.pairs) == [10, 10] and list(bins.sampled_freq) == [0.5, 0.5]


def test_per_prompt_rows_with_vars(server):
    server.script_first_token({"Yes": 0.5, "No": 0.5}, ["Yes", "No"] * 2, when="sky")
    server.script_first_token({"Yes": 0.2, "No": 0.8}, ["No"] * 4, when="sea")
    r = complete("Is the {thing} blue?", model=MODEL, samples=4, temperature=1, top_logprobs=5, max_tokens=1,
                 sweep_vars={"thing": ["sky", "sea"]}, progress=False)
    cal = r.calibration()
    assert list(cal.columns[:2]) == ["thing", "label"]
    sea = cal[cal.thing == "sea"].set_index("label")
    assert sea.sampled_freq["No"] == 1.0 and math.isclose(sea.gap["No"], 0.2)
    sky = cal[cal.thing == "sky"].set_index("label")
    assert list(sky.sampled_freq) == [0.5, 0.5] and list(sky.runs) == [4, 4]


def test_by_choices_uses_the_labels(server):
    server.script_first_token({" yes": 0.6, " no": 0.4}, [" yes"] * 6 + [" no"] * 4)
    r = sweep(choices="yes,no")
    cal = r.calibration(by="choices")
    assert list(cal.label) == ["yes", "no"] and list(cal.sampled_freq) == [0.6, 0.4]
    assert cal.attrs["ece"] < 1e-9


def test_notes_on_temperature_and_bad_input(server):
    server.script_first_token({"Yes": 0.7, "No": 0.3}, ["Yes"] * 3)
    r = complete("Is the sky blue?", model=MODEL, samples=3, temperature=0.5, top_logprobs=5, max_tokens=1,
                 progress=False)
    cal = r.calibration()
    assert any("temperature=0.5" in n for n in cal.attrs["notes"])
    with pytest.raises(InvalidOption, match="by='label'"):
        r.calibration(by="label")
    with pytest.raises(InvalidOption, match="--choices"):
        r.calibration(by="choices")
    with pytest.raises(InvalidOption, match="bins=0"):
        r.calibration(bins=0)


def test_plot_calibration_without_matplotlib_names_the_install(server, monkeypatch):
    import sys

    from or_magic.core.errors import ConfigError

    server.script_first_token({"Yes": 0.9, "No": 0.1}, ["Yes", "No"] * 5)
    r = sweep()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ConfigError, match=r"pip install matplotlib"):
        r.plot_calibration()
