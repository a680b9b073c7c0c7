#!/usr/bin/env python3
"""Parses an SVG loss plot as XML, independently of utt, for its tests.

Usage: read_svg_plot.py FILE.svg

Checks that the document is well-formed XML whose root is an SVG element and that it is
self-contained (no script, no link to another file). Prints JSON: {"title": ..., "series":
{data-series name: [[x, y], ...]}, "texts": [...]}. Exits 1 naming the first problem.
"""
import json
import sys
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    root = ET.parse(sys.argv[1]).getroot()
    if root.tag != SVG + "svg":
        sys.exit(f"the root element is {root.tag}, not svg")
    series = {}
    texts = []
    for element in root.iter():
        if element.tag in (SVG + "script", SVG + "image", SVG + "use", SVG + "foreignObject"):
            sys.exit(f"not self-contained: a {element.tag} element")
        for name, value in element.attrib.items():
            if name.endswith("href") or "url(" in value:
                sys.exit(f"not self-contained: {name}={value}")
        if element.tag == SVG + "polyline" and "data-series" in element.attrib:
            points = [[float(v) for v in pair.split(",")] for pair in element.attrib["points"].split()]
            series[element.attrib["data-series"]] = points
        if element.tag == SVG + "text":
            texts.append("".join(element.itertext()))
    title = root.find(SVG + "title")
    json.dump({"title": title.text if title is not None else None, "series": series, "texts": texts}, sys.stdout)


main()
