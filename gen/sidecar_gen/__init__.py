# SPDX-License-Identifier: MIT
"""sidecar-gen: the protocol YAML to C, NASM, Markdown and JSON."""

VERSION = "1.0.0"
