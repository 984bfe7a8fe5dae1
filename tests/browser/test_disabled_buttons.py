"""A disabled `.button` looks disabled: the datasets page disables its Upload button while a zip goes
up (static/js/datasets.js), but pitlane.css styled it exactly like an enabled one, so it still
looked clickable (found trying the site as a new team)."""

from __future__ import annotations

from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "pitlane.css"


def test_disabled_buttons_are_dimmed_and_not_clickable_looking(new_page) -> None:
    page = new_page()
    page.set_content(f"<style>{CSS.read_text()}</style>"
                     '<button class="button" id="on">Upload</button>'
                     '<button class="button" id="off" disabled>Upload</button>'
                     '<button class="button danger" id="danger-off" disabled>Delete</button>')

    def style(element_id: str) -> dict:
        return page.eval_on_selector(f"#{element_id}", "e => { const s = getComputedStyle(e); "
                                     "return {opacity: Number(s.opacity), cursor: s.cursor}; }")

    assert style("on") == {"opacity": 1.0, "cursor": "pointer"}
    for element_id in ("off", "danger-off"):
        assert style(element_id)["opacity"] <= 0.6
        assert style(element_id)["cursor"] == "not-allowed"
