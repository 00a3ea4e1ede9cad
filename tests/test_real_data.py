"""Real design data end to end: an icon folder imported, frozen, trained (a tiny model, seconds), evaluated
beside its baselines and shown as pictures; designs the model form cannot express are reported and left
out; snapshots too small to train on are refused before anything trains."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from tests.shared_fixtures import tiny_params
from training.models import Dataset, ImportBatch, ModelAlias, TrainingExample, TrainingRun
from training.services.import_run import import_batch_run
from training.services.imports import import_batch_create
from training.services.pipelines import icon_model_pipeline_run
from training.services.runs import training_run_create, training_run_run
from training.services.snapshots import dataset_export, dataset_snapshot_create

LUCIDE = Path(__file__).resolve().parents[2] / "shared" / "data" / "lucide" / "icons"
pytestmark = pytest.mark.skipif(
    not LUCIDE.is_dir(), reason="../shared/data/lucide is not beside the checkout"
)
TINY = tiny_params(max_steps=40, checkpoint_every=20)
TEXT_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><text x="2" y="20">{}</text>'
    '<rect width="4" height="4"/></svg>'
)


def icon_folder(tmp_path: Path, count: int, *, text_icons: int = 0) -> Path:
    folder = tmp_path / "icons"
    folder.mkdir()
    for svg in sorted(LUCIDE.glob("*.svg"))[:: 1776 // count][:count]:
        shutil.copy(svg, folder / svg.name)
        shutil.copy(svg.with_suffix(".json"), folder / svg.with_suffix(".json").name)
    for i in range(text_icons):
        (folder / f"lettering-{i}.svg").write_text(TEXT_ICON.format(f"A{i}"))
    return folder


def snapshot_of(folder: Path, name: str) -> Dataset:
    batch = import_batch_create(
        source_name=folder.name,
        source_path=str(folder),
        format="icon_set",
        mode="skip_invalid",
        default_status="approved",
        enqueue=False,
    )
    import_batch_run(batch_id=batch.pk)
    examples = TrainingExample.objects.filter(import_batch__source_path=str(folder))
    ds = dataset_snapshot_create(name=name, examples=examples, seed=0, enqueue=False)
    return dataset_export(dataset_id=ds.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_tiny_real_icon_run_reports_quality_beside_baselines_and_shows_pictures(
    tmp_path, client, roles, superuser
):
    dataset = snapshot_of(icon_folder(tmp_path, 60, text_icons=3), "real-tiny")
    assert dataset.profile["form"]["grid"] in (24, 48, 96, 192) and dataset.profile["unconvertible"] >= 1

    run = training_run_create(dataset=dataset, params=TINY, enqueue=False)
    # From the snapshot's recipe: the last state, and designs chosen by consensus of 32 candidates.
    assert run.training_params["select_by"] == "last" and run.training_params["consensus"] == 32
    assert run.training_params["n_positions"] >= dataset.profile["max_tokens"]
    run = training_run_run(run_id=run.pk)
    assert run.status == "completed", run.error_message
    messages = list(run.events.values_list("message", flat=True))
    unconvertible = next(m for m in messages if "cannot be written in the model form" in m)
    assert "text is not supported" in unconvertible and "lettering" in unconvertible
    event = run.events.get(message=unconvertible)
    assert {x["reason"] for x in event.data["examples"]} == {"text is not supported"}

    m = run.result_model.metrics
    for key in (
        "valid_nondegenerate",
        "iou",
        "l2",
        "blank_l2",
        "blank_iou",
        "random_iou",
        "random_l2",
        "retrieval_iou",
        "retrieval_l2",
        "train_iou",
        "biou",
        "blank_biou",
        "random_biou",
        "retrieval_biou",
        "greedy_valid",
        "copy_rate",
        "diversity",
        "eval_prompts",
    ):
        assert key in m, key
    assert m["blank_iou"] == 0.0 and 0.0 < m["random_iou"] < 1.0 and 0.0 < m["retrieval_iou"] <= 1.0
    assert any(k.startswith(("low_", "medium_", "high_")) for k in m)
    # Generation chooses designs as the evaluation did, and the greedy decodes are scored beside them.
    assert run.result_model.model_config["decoding"] == {"consensus": 32, "temperature": 1.0}
    assert {"iou_greedy", "train_iou_greedy", "valid_nondegenerate_greedy"} <= set(m)
    gallery = run.result_model.gallery
    assert gallery and {"prompt", "reference_svg", "svg", "iou", "stratum"} <= set(gallery[0])

    page = client.get(f"/admin/training/slmmodel/{run.result_model.pk}/change/").content.decode()
    assert "random training design" in page and "retrieval" in page and "/gallery/0/reference.png" in page
    assert "<svg" not in page.split("quality-panel", 1)[1].split("</figure>", 1)[0]  # pictures, not markup
    png = client.get(f"/admin/training/slmmodel/{run.result_model.pk}/gallery/0/design.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert (
        client.get(f"/admin/training/slmmodel/{run.result_model.pk}/gallery/99/design.png").status_code == 404
    )
    run_page = client.get(f"/admin/training/trainingrun/{run.pk}/change/").content.decode()
    assert "draw nothing" in run_page and "balanced IoU" in run_page and "greedy decodes valid" in run_page
    assert "balanced IoU" in page


@pytest.mark.django_db
def test_a_snapshot_too_small_to_train_on_is_refused(tmp_path):
    dataset = snapshot_of(icon_folder(tmp_path, 4), "real-small")
    with pytest.raises(ValidationError, match="needs at least 8"):
        training_run_create(dataset=dataset, params=TINY, enqueue=False)
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_the_form_cannot_express_fails_before_training(tmp_path):
    folder = tmp_path / "letters"
    folder.mkdir()
    for i in range(12):
        (folder / f"letter-{i}.svg").write_text(TEXT_ICON.format(chr(65 + i)))
    dataset = snapshot_of(folder, "letters")
    run = training_run_create(dataset=dataset, params=TINY, enqueue=False)
    run = training_run_run(run_id=run.pk)
    assert run.status == "failed" and "can be written in the model form" in run.error_message
    assert run.step == 0 and run.result_model is None
    assert "text is not supported" in " ".join(run.events.values_list("message", flat=True))


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_train_icon_model_prints_its_line(tmp_path, capsys):
    folder = icon_folder(tmp_path, 40)
    call_command("train_icon_model", str(folder), "--budget-seconds", "3")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    keys = [part.split("=")[0] for part in last.split()]
    assert keys == [
        "valid_nondegenerate",
        "iou",
        "l2",
        "blank_l2",
        "random_iou",
        "retrieval_iou",
        "train_iou",
        "biou",
        "random_biou",
        "retrieval_biou",
        "greedy_valid",
        "steps",
    ]
    assert int(last.rsplit("steps=", 1)[1]) > 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_train_icon_model_does_not_promote_a_model_that_has_not_learned(tmp_path, capsys):
    folder = icon_folder(tmp_path, 40)
    call_command("train_icon_model", str(folder), "--budget-seconds", "3", "--promote-to", "production")
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("valid_nondegenerate=")  # the summary stays last
    assert out[-3].startswith("Not learned:")
    assert out[-2].startswith("Did not promote") and "has not learned its data set" in out[-2]
    assert "--override-reason" in out[-2]
    assert not ModelAlias.objects.filter(name="production").exists()
    run = TrainingRun.objects.get()
    assert run.status == "completed" and run.result_model is not None


@pytest.mark.django_db(transaction=True)
def test_pipeline_refuses_a_folder_with_nothing_to_import(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.svg").write_text("<svg")
    with pytest.raises((ValidationError, ValueError)):
        icon_model_pipeline_run(source=empty, budget_seconds=1)


HOSTILE = {
    # 30,000 stylesheet rules over 10,000 rects: minutes of CPU in the old encoder
    "rules": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><style>'
    + "".join(f".c{i}{{fill:red}}" for i in range(30_000))
    + "</style>"
    + "".join(f'<rect class="c{i}" width="1" height="1"/>' for i in range(10_000))
    + "</svg>",
    "huge": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M0 0 L1e308 0"/></svg>',
    "scale": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
    '<g transform="scale(1e200)"><rect width="2" height="2"/></g></svg>',
    "arc": '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
    '<path d="M2 2 A1e-300 1e-300 0 0 1 20 20"/></svg>',
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_icon_folder_with_hostile_svgs_imports_and_trains_to_the_end(tmp_path, capsys):
    """The security issue's four hostile SVGs beside real icons: each is refused at import or left out of
    training with its reason, and the command trains and evaluates to its last line."""
    folder = icon_folder(tmp_path, 40)
    for name, svg in HOSTILE.items():
        (folder / f"hostile-{name}.svg").write_text(svg)
    call_command("train_icon_model", str(folder), "--budget-seconds", "3")
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("valid_nondegenerate=") and int(last.rsplit("steps=", 1)[1]) > 0
    assert TrainingRun.objects.get().status == "completed"
    batch = ImportBatch.objects.get()
    stored = list(TrainingExample.objects.filter(import_batch=batch).values_list("svg_content", flat=True))
    # The rules, the 1e308 and the scale(1e200) files are refused at import (clean_svg's caps), none
    # half-stored; the tiny arc is a valid drawing (resvg draws it as a line, the form writes a line).
    assert len(stored) == 41 and batch.rows_invalid == 3, (len(stored), batch.rows_invalid)
    hostile = TrainingExample.objects.filter(import_batch=batch, prompt__icontains="hostile")
    assert [e.prompt.split(";")[0] for e in hostile] == ["hostile arc icon"]
