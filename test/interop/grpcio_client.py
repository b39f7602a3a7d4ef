"""This project's own RouteGuide client on Python's grpcio, for interop with the core server.

Written for this repository: it walks the RouteGuide scenario of clients/seed-notes.ts and prints
one JSON object per answer, the shape test/interop/official-client.ts asserts on. Stubs are compiled
at start-up from proto/route_guide.proto with grpc_tools into a temporary directory.

usage: grpcio_client.py HOST:PORT
"""

import importlib
import json
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")

# The seed scenario's notes: (latitude, longitude, message).
SEED_NOTES = [
    (0, 1, "First message"),
    (0, 2, "Second message"),
    (0, 3, "Third message"),
    (0, 1, "Fourth message"),
    (0, 2, "Fifth message"),
    (0, 3, "Sixth message"),
]


def compile_stubs(out_dir):
    status = protoc.main(
        [
            "protoc",
            "-I" + PROTO_DIR,
            "--python_out=" + out_dir,
            "--grpc_python_out=" + out_dir,
            "route_guide.proto",
        ]
    )
    if status != 0:
        raise RuntimeError("grpc_tools.protoc exited with %d" % status)
    sys.path.insert(0, out_dir)
    return importlib.import_module("route_guide_pb2"), importlib.import_module("route_guide_pb2_grpc")


def out(rpc, **fields):
    fields["rpc"] = rpc
    print(json.dumps(fields), flush=True)


def feature_line(rpc, feature):
    has = feature.HasField("location")
    out(
        rpc,
        name=feature.name,
        latitude=feature.location.latitude if has else None,
        longitude=feature.location.longitude if has else None,
    )


def walk(pb, stub):
    timeout = 15
    for latitude, longitude in ((409146138, -746188906), (0, 0)):
        feature_line("GetFeature", stub.GetFeature(pb.Point(latitude=latitude, longitude=longitude), timeout=timeout))

    box = pb.Rectangle(
        lo=pb.Point(latitude=400000000, longitude=-750000000),
        hi=pb.Point(latitude=420000000, longitude=-730000000),
    )
    listed = list(stub.ListFeatures(box, timeout=timeout))
    for feature in listed:
        feature_line("ListFeatures", feature)

    # The route visits the first features just listed, a known mix of named and unnamed points.
    route = [feature.location for feature in listed[:7]]
    summary = stub.RecordRoute(iter(route), timeout=timeout)
    out(
        "RecordRoute",
        sent_points=len(route),
        point_count=summary.point_count,
        feature_count=summary.feature_count,
        distance=summary.distance,
        elapsed_time=summary.elapsed_time,
    )

    notes = (pb.RouteNote(location=pb.Point(latitude=la, longitude=lo), message=m) for la, lo, m in SEED_NOTES)
    for note in stub.RouteChat(notes, timeout=timeout):
        out("RouteChat", message=note.message, latitude=note.location.latitude, longitude=note.location.longitude)


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="grpcio-client-") as stubs_dir:
        pb, pb_grpc = compile_stubs(stubs_dir)
        with grpc.insecure_channel(argv[1]) as channel:
            grpc.channel_ready_future(channel).result(timeout=15)
            try:
                walk(pb, pb_grpc.RouteGuideStub(channel))
            except grpc.RpcError as error:
                print("grpcio_client: %s: %s" % (error.code(), error.details()), file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
