# Copyright 2015 gRPC authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
#
# Adapted from the official gRPC Python RouteGuide example client,
# grpc/grpc examples/python/route_guide/route_guide_client.py (Apache-2.0).
# The structure (guide_get_one_feature, guide_get_feature, guide_list_features,
# generate_route, guide_record_route, generate_messages, guide_route_chat, run)
# is that of the official example. Changes for use as an interop test:
#   - the server address is taken from argv[1] instead of 'localhost:50051';
#   - the stubs are generated at run time with grpc_tools.protoc from this
#     repository's proto/route_guide.proto into a temporary directory, so no
#     generated code is committed;
#   - the feature database is this repository's core-server/route_guide_db.json
#     (route_guide_resources.read_route_guide_database is inlined);
#   - every result is printed to stdout as one JSON object per line (for the
#     test to assert); the example's human-readable narration goes to stderr;
#   - the pauses between streamed messages are shortened so the test is fast;
#   - RouteChat sends six notes at (0,1),(0,2),(0,3),(0,1),(0,2),(0,3).
"""The Python implementation of the gRPC route guide client (interop test)."""

import json
import os
import random
import shutil
import sys
import tempfile
import time

import grpc
from grpc_tools import protoc

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROTO_DIR = os.path.join(REPO_ROOT, "proto")
FEATURE_DB = os.path.join(REPO_ROOT, "core-server", "route_guide_db.json")

# Filled in by load_stubs(): the modules protoc generates from route_guide.proto.
route_guide_pb2 = None
route_guide_pb2_grpc = None


def load_stubs(out_dir):
    """Generates route_guide_pb2(_grpc).py into out_dir and imports them."""
    global route_guide_pb2, route_guide_pb2_grpc
    code = protoc.main(
        [
            "grpc_tools.protoc",
            "-I" + PROTO_DIR,
            "--python_out=" + out_dir,
            "--grpc_python_out=" + out_dir,
            os.path.join(PROTO_DIR, "route_guide.proto"),
        ]
    )
    if code != 0:
        raise RuntimeError("grpc_tools.protoc failed with exit code %d" % code)
    sys.path.insert(0, out_dir)
    import route_guide_pb2 as pb2  # noqa: E402 (generated above)
    import route_guide_pb2_grpc as pb2_grpc  # noqa: E402 (generated above)

    route_guide_pb2, route_guide_pb2_grpc = pb2, pb2_grpc


def emit(record):
    """Prints one result as a JSON line on stdout."""
    print(json.dumps(record), flush=True)


def narrate(text):
    """The official example's human-readable output, kept on stderr."""
    print(text, file=sys.stderr, flush=True)


def point_str(point):
    return "(%d, %d)" % (point.latitude, point.longitude)


def read_route_guide_database():
    """Reads the route guide database (route_guide_resources in the example).

    Returns:
      The full contents of the route guide database as a sequence of
        route_guide_pb2.Features.
    """
    feature_list = []
    with open(FEATURE_DB) as route_guide_db_file:
        for item in json.load(route_guide_db_file):
            feature = route_guide_pb2.Feature(
                name=item["name"],
                location=route_guide_pb2.Point(
                    latitude=item["location"]["latitude"],
                    longitude=item["location"]["longitude"],
                ),
            )
            feature_list.append(feature)
    return feature_list


def make_route_note(message, latitude, longitude):
    return route_guide_pb2.RouteNote(
        message=message,
        location=route_guide_pb2.Point(latitude=latitude, longitude=longitude),
    )


def guide_get_one_feature(stub, point):
    feature = stub.GetFeature(point)
    if not feature.HasField("location"):
        narrate("Server returned incomplete feature")
        emit({"rpc": "GetFeature", "name": feature.name, "latitude": None, "longitude": None})
        return

    if feature.name:
        narrate("Feature called %s at %s" % (feature.name, point_str(feature.location)))
    else:
        narrate("Found no feature at %s" % point_str(feature.location))
    emit(
        {
            "rpc": "GetFeature",
            "name": feature.name,
            "latitude": feature.location.latitude,
            "longitude": feature.location.longitude,
        }
    )


def guide_get_feature(stub):
    guide_get_one_feature(stub, route_guide_pb2.Point(latitude=409146138, longitude=-746188906))
    guide_get_one_feature(stub, route_guide_pb2.Point(latitude=0, longitude=0))


def guide_list_features(stub):
    rectangle = route_guide_pb2.Rectangle(
        lo=route_guide_pb2.Point(latitude=400000000, longitude=-750000000),
        hi=route_guide_pb2.Point(latitude=420000000, longitude=-730000000),
    )
    narrate("Looking for features between 40, -75 and 42, -73")

    features = stub.ListFeatures(rectangle)

    for feature in features:
        narrate("Feature called %s at %s" % (feature.name, point_str(feature.location)))
        emit(
            {
                "rpc": "ListFeatures",
                "name": feature.name,
                "latitude": feature.location.latitude,
                "longitude": feature.location.longitude,
            }
        )


def generate_route(feature_list):
    for _ in range(0, 10):
        random_feature = random.choice(feature_list)
        narrate("Visiting point %s" % point_str(random_feature.location))
        yield random_feature.location
        # The official example sleeps 0.5-1.5 s here.
        time.sleep(random.uniform(0.005, 0.015))


def guide_record_route(stub):
    feature_list = read_route_guide_database()

    route_iterator = generate_route(feature_list)
    route_summary = stub.RecordRoute(route_iterator)
    narrate("Finished trip with %s points " % route_summary.point_count)
    narrate("Passed %s features " % route_summary.feature_count)
    narrate("Travelled %s meters " % route_summary.distance)
    narrate("It took %s seconds " % route_summary.elapsed_time)
    emit(
        {
            "rpc": "RecordRoute",
            "point_count": route_summary.point_count,
            "feature_count": route_summary.feature_count,
            "distance": route_summary.distance,
            "elapsed_time": route_summary.elapsed_time,
        }
    )


def generate_messages():
    messages = [
        make_route_note("First message", 0, 1),
        make_route_note("Second message", 0, 2),
        make_route_note("Third message", 0, 3),
        make_route_note("Fourth message", 0, 1),
        make_route_note("Fifth message", 0, 2),
        make_route_note("Sixth message", 0, 3),
    ]
    for msg in messages:
        narrate("Sending %s at %s" % (msg.message, point_str(msg.location)))
        yield msg
        # The official example sleeps 0.5-1.0 s here.
        time.sleep(random.uniform(0.005, 0.01))


def guide_route_chat(stub):
    responses = stub.RouteChat(generate_messages())
    for response in responses:
        narrate("Received message %s at %s" % (response.message, point_str(response.location)))
        emit(
            {
                "rpc": "RouteChat",
                "message": response.message,
                "latitude": response.location.latitude,
                "longitude": response.location.longitude,
            }
        )


def run(address):
    # NOTE(gRPC Python Team): .close() is possible on a channel and should be
    # used in circumstances in which the with statement does not fit the needs
    # of the code.
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=15)
        stub = route_guide_pb2_grpc.RouteGuideStub(channel)
        narrate("-------------- GetFeature --------------")
        guide_get_feature(stub)
        narrate("-------------- ListFeatures --------------")
        guide_list_features(stub)
        narrate("-------------- RecordRoute --------------")
        guide_record_route(stub)
        narrate("-------------- RouteChat --------------")
        guide_route_chat(stub)


def main(argv):
    if len(argv) != 2:
        print("usage: %s HOST:PORT" % argv[0], file=sys.stderr)
        return 2
    out_dir = tempfile.mkdtemp(prefix="route_guide_stubs_")
    try:
        load_stubs(out_dir)
        run(argv[1])
    except grpc.RpcError as error:
        print("route_guide_client: %s: %s" % (error.code(), error.details()), file=sys.stderr)
        return 1
    except grpc.FutureTimeoutError:
        print("route_guide_client: server %s not ready within 15 s" % argv[1], file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
