"""The site has an icon: static files served locally, linked from the base template, and
/favicon.ico (asked for by pages without the link: admin, error pages, tools) leads to it.
The served bytes are checked through `make run` in test_run_local_workers.py."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from PIL import Image

pytestmark = pytest.mark.django_db


def test_base_template_links_the_local_icons(client):
    html = client.get("/").content.decode()
    links = re.findall(r'<link rel="icon" href="([^"]+)"', html)
    assert links == ["/static/img/favicon.ico", "/static/img/favicon.svg"]
    assert "data:image" not in html.split("</head>")[0]


def test_icon_files_are_real_images():
    ico = Image.open(io.BytesIO(Path(finders.find("img/favicon.ico")).read_bytes()))
    assert ico.format == "ICO" and (32, 32) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
    svg = ET.parse(finders.find("img/favicon.svg")).getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"


def test_favicon_ico_at_the_root_leads_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == "/static/img/favicon.ico"
