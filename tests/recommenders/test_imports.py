"""The API process imports only what serving needs: recipes load when a model asks for them."""

from __future__ import annotations

import subprocess
import sys


def test_api_process_does_not_import_every_recipe() -> None:
    code = (
        "import sys\n"
        "import streamrec.api.app, streamrec.runtime, streamrec.serving.service\n"
        "import streamrec.models.registry\n"
        "loaded = [m for m in ('implicit', 'streamrec.recommenders.als',"
        " 'streamrec.recommenders.hybrid', 'streamrec.recommenders.ease') if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_recipe_loads_on_first_use() -> None:
    code = (
        "import sys\n"
        "from streamrec.recommenders import create\n"
        "create('als')\n"
        "print('streamrec.recommenders.als' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
