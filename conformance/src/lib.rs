//! Independent checks for keyward's CTAP host (issue 10): see `docs/conformance.md`.
