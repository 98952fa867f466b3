"""The virtual environment holds exactly the versions the requirements files pin.

`.ci/run` reuses target/conformance-venv between runs; this catches a venv that drifted from
the pins (a stale install, or a pin edited without reinstalling)."""

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

PIN_LINE = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)")


def pins():
    for req in sorted(Path(__file__).parent.glob("requirements*.txt")):
        for line in req.read_text().splitlines():
            m = PIN_LINE.match(line)
            if m:
                yield req.name, m.group(1), m.group(2)


@pytest.mark.parametrize("source,package,pinned", list(pins()))
def test_installed_version_matches_pin(source, package, pinned):
    try:
        installed = version(package)
    except PackageNotFoundError:
        pytest.fail(f"{package} ({source}) is not installed in this environment")
    assert installed == pinned, f"{package}: {source} pins {pinned}, installed {installed}"


def test_python_fido2_is_pinned():
    assert any(p == "fido2" for _, p, _ in pins()), "requirements.txt must pin fido2"
