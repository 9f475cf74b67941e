"""The core every other layer stands on: errors, the domain model, settings, numerals and the one
citation grammar, regions, version resolution and Chinese segmentation. It imports nothing of lawkb
outside itself."""
