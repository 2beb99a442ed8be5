#!/usr/bin/env bash
# Creates .venv in the repository root with the exact librosa the reference arrays come from.
# Usage: scripts/setup-librosa.sh && .venv/bin/python scripts/librosa_reference.py
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --upgrade pip
.venv/bin/pip install librosa==0.11.0 numpy soundfile
.venv/bin/python -c "import librosa; print('librosa', librosa.__version__)"
