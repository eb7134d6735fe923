"""Stores on object storage: a real S3-compatible server (moto in server mode, with IAM auth
on) on 127.0.0.1, started here and killed after. Stores published there are read by
from_npk, top_k and NumPack(url, mode='r') and compared with the local store; a missing
object, a truncated object and a wrong credential give clear errors."""

import json
import os
import socket
import subprocess
import sys
import time

import boto3
import dask.array as da
import numpy as np
import pytest
from dask_common import make_shards, store_with_drops

import numpack.dask as nd
from numpack import CorruptStoreError, NumPack, unpack
from numpack.remote import pack_to, publish
from numpack.vector_engine import VectorSearch

BUCKET = "npk"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3():
    port = _free_port()
    # Four unauthenticated calls set up a user and its key; every later call is checked.
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="4")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start")
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        anon = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
        iam = boto3.client("iam", **anon)
        iam.create_user(UserName="npk")
        key = iam.create_access_key(UserName="npk")["AccessKey"]
        allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="npk", PolicyName="all", PolicyDocument=json.dumps(allow_all))
        creds = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        client = boto3.client("s3", **creds)
        client.create_bucket(Bucket=BUCKET)
        opts = {
            "key": key["AccessKeyId"],
            "secret": key["SecretAccessKey"],
            "endpoint_url": endpoint,
            "client_kwargs": {"region_name": "us-east-1"},
            "use_listings_cache": False,
        }
        yield client, opts
    finally:
        proc.kill()
        proc.wait()


def _publish(tmp_path, rng, s3, prefix):
    client, opts = s3
    arr = rng.standard_normal((300, 6)).astype(np.float32)
    p = tmp_path / prefix
    live = store_with_drops(p, "a", arr, rng)
    with NumPack(p) as npk:
        npk.save({"z": np.arange(5, dtype=np.int16)})
    url = f"s3://{BUCKET}/{prefix}"
    publish(p, url, opts)
    return url, live


def test_read_from_s3_equals_local(tmp_path, rng, s3):
    _, opts = s3
    url, live = _publish(tmp_path, rng, s3, "one")
    x = nd.from_npk(url, "a", chunks=40, storage_options=opts)
    np.testing.assert_array_equal(x.compute(scheduler="threads"), live)
    with NumPack(url, mode="r", storage_options=opts) as npk:
        assert npk.keys() == ["a", "z"]
        np.testing.assert_array_equal(npk.load("a"), live)
        np.testing.assert_array_equal(npk.getitem("a", [3, 0, 7]), live[[3, 0, 7]])
        np.testing.assert_array_equal(npk.load("z"), np.arange(5, dtype=np.int16))
        with pytest.raises(OSError, match="read-only"):
            npk.save({"b": live})
    with pytest.raises(FileExistsError):
        publish(tmp_path / "one", url, opts)
    with pytest.raises(ValueError, match="mode='r'"):
        NumPack(url)


def test_write_to_s3_with_to_npk_and_pack(tmp_path, rng, s3):
    client, opts = s3
    arr = rng.standard_normal((70, 3))
    url = f"s3://{BUCKET}/written"
    nd.to_npk(da.from_array(arr, chunks=16), url, "w", storage_options=opts, scheduler="threads")
    with NumPack(url, mode="r", storage_options=opts) as npk:
        np.testing.assert_array_equal(npk.load("w"), arr)
    # A package: one object, unpacked from a download into an equal store.
    with NumPack(tmp_path / "local.npk") as npk:
        npk.save({"w": arr})
    pack_to(tmp_path / "local.npk", f"s3://{BUCKET}/pkg/store.npkg", opts)
    (tmp_path / "dl.npkg").write_bytes(client.get_object(Bucket=BUCKET, Key="pkg/store.npkg")["Body"].read())
    with NumPack(unpack(tmp_path / "dl.npkg", tmp_path / "back.npk")) as npk:
        np.testing.assert_array_equal(npk.load("w"), arr)


@pytest.mark.parametrize("metric", ["cosine", "l2", "dot", "hamming"])
def test_top_k_over_s3_shards(tmp_path, rng, s3, metric):
    _, opts = s3
    paths, allv, q = make_shards(str(tmp_path), rng, metric, sizes=(37, 52, 41))
    urls = []
    for i, p in enumerate(paths):
        urls.append(f"s3://{BUCKET}/shards-{metric}/{i}")
        publish(p, urls[-1], opts)
    # Mixed: one shard local, two remote.
    shards = [paths[0]] + urls[1:]
    idx, sc = nd.top_k(q, shards, "vecs", metric, 9, storage_options=opts)
    ref = VectorSearch().multi_query_top_k(q, allv, metric, 9)
    np.testing.assert_array_equal(idx, ref[0])
    np.testing.assert_array_equal(sc, ref[1])


def test_missing_truncated_and_wrong_credential(tmp_path, rng, s3):
    client, opts = s3
    url, live = _publish(tmp_path, rng, s3, "bad")
    # A wrong secret: PermissionError naming the object, before anything is read.
    wrong = dict(opts, secret="not-the-secret")
    with pytest.raises(PermissionError, match="metadata.npkm"):
        nd.from_npk(url, "a", storage_options=wrong)
    with pytest.raises(PermissionError):
        NumPack(url, mode="r", storage_options=wrong).open()
    # A truncated data object: the catalogue's size check names it.
    data = client.get_object(Bucket=BUCKET, Key="bad/data_a.npkd")["Body"].read()
    client.put_object(Bucket=BUCKET, Key="bad/data_a.npkd", Body=data[: len(data) // 2])
    with pytest.raises(CorruptStoreError, match="data_a.npkd"):
        nd.from_npk(url, "a", storage_options=opts)
    # A missing data object.
    client.delete_object(Bucket=BUCKET, Key="bad/data_a.npkd")
    with pytest.raises(CorruptStoreError, match="data_a.npkd"):
        nd.from_npk(url, "a", storage_options=opts)
    # A graph built, then the object removed: the task's error names it.
    url2, _ = _publish(tmp_path, rng, s3, "gone")
    x = nd.from_npk(url2, "a", chunks=50, storage_options=opts)
    client.delete_object(Bucket=BUCKET, Key="gone/data_a.npkd")
    with pytest.raises(CorruptStoreError, match="data_a.npkd"):
        x.compute(scheduler="threads")
    # No store at all: an empty store, so the array is missing.
    with pytest.raises(KeyError):
        nd.from_npk(f"s3://{BUCKET}/nothing-here", "a", storage_options=opts)
