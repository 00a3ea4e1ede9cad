"""Every generated design's fingerprint is stored by the worker once its request completed (real rendering,
PostgreSQL), and `?neighbours=` and the design page's similar panel use the stored one; a design without one
falls back to computing it."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from django.urls import reverse

from core.jobs.lifecycle import job_claim
from core.svg import clean_svg
from core.svg.fingerprint import fingerprint_svg
from generation.models import DesignFingerprint, DesignOutput, OutputImage
from generation.services.fingerprints import output_fingerprints_compute
from generation.tasks import _completed_leftovers
from tests.api.conftest import run_jobs
from tests.shared_fixtures import MDI_ICONS
from training.models import ExampleFingerprint, SimilarityIndexBuild, TrainingExample
from training.services.similarity import similarity_index_build_execute

pytestmark = pytest.mark.django_db
URL = "/api/v1/generations/"
MDI = MDI_ICONS


@pytest.fixture
def examples(settings, tmp_path) -> dict[str, TrainingExample]:
    settings.WORK_DIR = tmp_path
    made = {
        name: TrainingExample.objects.create(
            prompt=f"{name} icon",
            svg_content=clean_svg((MDI / f"{name}.svg").read_text()).svg,
            external_id=name,
            content_hash=hashlib.sha256(name.encode()).hexdigest(),
        )
        for name in ("circle", "home", "cog")
    }
    build = SimilarityIndexBuild.objects.create()
    similarity_index_build_execute(build=job_claim(SimilarityIndexBuild, build.pk))
    return made


def generate_circle(api) -> tuple[DesignOutput, OutputImage]:
    response = api.post(URL, {"text": "a red circle", "seed": 3}, format="json")
    assert response.status_code == 202, response.content
    run_jobs()
    output = DesignOutput.objects.get(pk=response.json()["id"])
    return output, OutputImage.objects.get(output=output, file_type="svg")


def stored_vector(image: OutputImage) -> np.ndarray:
    return np.frombuffer(bytes(DesignFingerprint.objects.get(image=image).vector), dtype=np.float32)


def test_a_completed_generation_stores_each_designs_fingerprint(api, model_version, fake_generator):
    output, image = generate_circle(api)
    row = DesignFingerprint.objects.get(image=image)
    with image.file.open("rb") as fh:
        expected = fingerprint_svg(fh.read().decode())
    assert row.rendered and row.phash == expected.phash
    assert np.allclose(stored_vector(image), expected.vector)
    assert DesignFingerprint.objects.count() == 1  # the SVG's, not the PNG's
    # A redelivered request (the worker died after completing it) stores the ones it lacks, once.
    row.delete()
    _completed_leftovers(output.pk)
    assert np.allclose(stored_vector(image), expected.vector)
    assert output_fingerprints_compute(output_id=output.pk) == 0


def test_neighbours_use_the_stored_fingerprint_and_compute_a_missing_one(
    api, model_version, fake_generator, examples
):
    output, image = generate_circle(api)
    url = f"{URL}{output.pk}/?neighbours=1"
    [design] = api.get(url).json()["designs"]
    assert [n["name"] for n in design["neighbours"]] == ["circle"]
    # The stored one is read, not the SVG rendered again: store the home icon's picture under this design.
    home = ExampleFingerprint.objects.get(example=examples["home"])
    DesignFingerprint.objects.filter(image=image).update(vector=home.vector, phash=home.phash)
    [design] = api.get(url).json()["designs"]
    assert [n["name"] for n in design["neighbours"]] == ["home"]
    # Stored as having no rendering: no neighbours.
    DesignFingerprint.objects.filter(image=image).update(rendered=False, vector=None)
    [design] = api.get(url).json()["designs"]
    assert design["neighbours"] is None
    # None stored (a request completed before fingerprints were): computed from the SVG.
    DesignFingerprint.objects.filter(image=image).delete()
    [design] = api.get(url).json()["designs"]
    assert [n["name"] for n in design["neighbours"]] == ["circle"]


def test_the_design_page_panel_uses_the_stored_fingerprint(
    client, superuser, api, model_version, fake_generator, examples
):
    output, image = generate_circle(api)
    page_url = reverse("admin:generation_designoutput_change", args=[output.pk])

    def panel_names() -> list[str]:
        [panel] = client.get(page_url).context["design_similar"]
        return [n.example.external_id for n in panel["similar"]]

    assert panel_names()[0] == "circle"
    cog = ExampleFingerprint.objects.get(example=examples["cog"])
    DesignFingerprint.objects.filter(image=image).update(vector=cog.vector, phash=cog.phash)
    assert panel_names()[0] == "cog"


def test_the_command_fingerprints_designs_stored_before_fingerprints_were(api, model_version, fake_generator):
    from django.core.management import call_command

    _, image = generate_circle(api)
    generate_circle_too = api.post(URL, {"text": "another red circle", "seed": 4}, format="json")
    run_jobs()
    DesignFingerprint.objects.all().delete()
    out = io.StringIO()
    call_command("fingerprint_designs", stdout=out)
    assert out.getvalue().strip() == "fingerprinted 2" and generate_circle_too.status_code == 202
    assert DesignFingerprint.objects.filter(image=image, rendered=True).exists()
    call_command("fingerprint_designs", stdout=out)
    assert out.getvalue().strip().endswith("fingerprinted 0")
