#!/usr/bin/env python3
"""Decodes the TensorBoard event files of a directory independently of utt, for its tests.

Usage: read_tensorboard.py RUNS_DIR

Each file whose name contains "tfevents" (TensorBoard's own test), in name order, is split
into TFRecords; both CRCs of every record are checked with crcmod's CRC-32C (masked as
TFRecord masks them), and the file must end exactly after its last record. Each record is
parsed as a tensorboard.Event by code protoc generates from tensorboard_event.proto.
Prints JSON: {"files": [{"name": ..., "events": [{"wall_time", "step", "file_version" |
"session_status" | "scalars": {tag: value}}]}]}. Exits 1 naming the first problem.
"""
import atexit
import importlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import crcmod.predefined

crc32c = crcmod.predefined.mkCrcFun("crc-32c")


def masked(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def event_module():
    here = os.path.dirname(os.path.abspath(__file__))
    out = tempfile.mkdtemp(prefix="utt-tb-proto-")
    atexit.register(shutil.rmtree, out, True)
    subprocess.run(["protoc", "-I", here, "--python_out", out, os.path.join(here, "tensorboard_event.proto")],
                   check=True)
    sys.path.insert(0, out)
    return importlib.import_module("tensorboard_event_pb2")


def records(path):
    data = open(path, "rb").read()
    pos = 0
    while pos < len(data):
        if len(data) - pos < 12:
            sys.exit(f"{path}: {len(data) - pos} bytes at offset {pos} are less than a record header")
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        if length_crc != masked(header):
            sys.exit(f"{path}: length CRC mismatch at offset {pos}")
        end = pos + 12 + length + 4
        if end > len(data):
            sys.exit(f"{path}: record at offset {pos} is cut short")
        body = data[pos + 12:pos + 12 + length]
        (body_crc,) = struct.unpack("<I", data[end - 4:end])
        if body_crc != masked(body):
            sys.exit(f"{path}: data CRC mismatch at offset {pos}")
        yield body
        pos = end


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    pb = event_module()
    runs = sys.argv[1]
    files = []
    for name in sorted(os.listdir(runs)):
        if "tfevents" not in name:
            continue
        events = []
        for body in records(os.path.join(runs, name)):
            event = pb.Event()
            event.ParseFromString(body)
            if event.SerializeToString() != body:
                sys.exit(f"{name}: an event does not re-encode to its own bytes (unknown or misplaced fields)")
            decoded = {"wall_time": event.wall_time, "step": event.step}
            what = event.WhichOneof("what")
            if what == "file_version":
                decoded["file_version"] = event.file_version
            elif what == "session_log":
                decoded["session_status"] = pb.SessionLog.SessionStatus.Name(event.session_log.status)
            elif what == "summary":
                decoded["scalars"] = {v.tag: v.simple_value for v in event.summary.value}
            else:
                sys.exit(f"{name}: an event holds none of file_version, summary, session_log")
            events.append(decoded)
        files.append({"name": name, "events": events})
    json.dump({"files": files}, sys.stdout)


main()
