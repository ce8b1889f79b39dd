"""data.download / infocam-data: archives in the official layouts served from 127.0.0.1, checked
before unpacking, unpacked beside root and renamed into place, refused when unsafe."""

from __future__ import annotations

import io
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest

from fixtures.archive_server import archive_server, closed_port, md5, tgz_of, zip_of
from fixtures.wsol import make_tiny_imagenet
from infocam.data.cub import CUBDataModule
from infocam.data.fetch import dataset_status, fetch_dataset
from infocam.data.formats.idx import write_idx
from infocam.data.standins.cub_layout import write_cub_layout
from infocam.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def cub_archive(tmp_path_factory) -> bytes:
    source = tmp_path_factory.mktemp("cub_source")
    write_cub_layout(source, num_images=6, min_side=32, max_side=40)
    (source / "attributes.txt").write_text("1 has_bill_shape::curved\n")  # the official tgz has one beside the folder
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(source / "CUB_200_2011", arcname="CUB_200_2011")
        tar.add(source / "attributes.txt", arcname="attributes.txt")
    return buffer.getvalue()


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock")) if root.exists() else []


def test_fresh_fetch_then_data_in_place_makes_no_request(tmp_path, cub_archive):
    root = tmp_path / "data"
    with archive_server() as server:
        server.files["/CUB_200_2011.tgz"] = cub_archive
        url = server.url("/CUB_200_2011.tgz")
        dm = CUBDataModule(str(root), num_classes=10, num_workers=0, image_size=32,
                           download=True, download_url=url, download_md5=md5(cub_archive))
        dm.prepare_data()
        # torchvision's download_url probes for redirects first (a GET whose body it leaves unread)
        before = list(server.requests)
        assert before and set(before) == {"/CUB_200_2011.tgz"}
        assert leftovers(root) == ["CUB_200_2011"]  # no archive, no temporary folder, nothing else unpacked
        dm.setup("fit")
        assert sum(len(s) for s in dm.splits.values()) >= 6
        # a second fetch (another DataModule, the CLI) checks images.txt and requests nothing
        status = fetch_dataset("cub", root, url=url, md5=md5(cub_archive))
        assert server.requests == before
    assert status.complete and status.count == 6 and "a subset or mirror: the official set has 11,788 images" in status.detail
    # the check needs no server at all
    assert fetch_dataset("cub", root, url=f"http://127.0.0.1:{closed_port()}/CUB_200_2011.tgz").complete


def test_wrong_checksum_is_one_line_and_the_file_is_removed(tmp_path, cub_archive):
    root = tmp_path / "data"
    with archive_server() as server:
        server.files["/CUB_200_2011.tgz"] = cub_archive
        with pytest.raises(DataError) as err:
            fetch_dataset("cub", root, url=server.url("/CUB_200_2011.tgz"), md5="0" * 32)
    message = str(err.value)
    assert "\n" not in message and "CUB_200_2011.tgz" in message
    assert f"md5 {md5(cub_archive)}" in message and f"expected {'0' * 32}" in message and "removed" in message
    assert leftovers(root) == []  # neither the bad archive nor anything unpacked from it


def test_transfer_cut_short_leaves_nothing_that_looks_complete(tmp_path, cub_archive):
    root = tmp_path / "data"
    with archive_server() as server:
        server.files["/CUB_200_2011.tgz"] = cub_archive
        server.cut.add("/CUB_200_2011.tgz")  # Content-Length says all, half is sent
        with pytest.raises(DataError, match=rf"md5 \w+ \({len(cub_archive) // 2:,} bytes\) but expected {md5(cub_archive)}"):
            fetch_dataset("cub", root, url=server.url("/CUB_200_2011.tgz"), md5=md5(cub_archive))
    assert leftovers(root) == [] and not dataset_status("cub", root).present


def _tar_with(member: tarfile.TarInfo, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        good = tarfile.TarInfo("CUB_200_2011/images.txt")
        good.size = 0
        tar.addfile(good, io.BytesIO(b""))
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return buffer.getvalue()


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize("member", [tarfile.TarInfo("../escaped.txt"), tarfile.TarInfo("CUB_200_2011/../../escaped.txt"),
                                    tarfile.TarInfo("/tmp/infocam-escaped.txt"), _symlink("CUB_200_2011/images", "/etc")],
                         ids=["dotdot", "nested-dotdot", "absolute", "symlink"])
def test_a_member_outside_root_is_refused_before_anything_is_unpacked(tmp_path, member):
    root = tmp_path / "data"
    archive = _tar_with(member)
    with archive_server() as server:
        server.files["/CUB_200_2011.tgz"] = archive
        with pytest.raises(DataError, match=rf"refusing to unpack member {member.name!r}.*nothing was unpacked"):
            fetch_dataset("cub", root, url=server.url("/CUB_200_2011.tgz"), md5=md5(archive))
    assert leftovers(root) == [] and not (tmp_path / "escaped.txt").exists()
    assert not Path("/tmp/infocam-escaped.txt").exists()


def test_no_server_names_the_url_and_how_to_stage_by_hand(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/CUB_200_2011.tgz"
    with pytest.raises(DataError) as err:
        fetch_dataset("cub", tmp_path / "data", url=url)
    message = str(err.value)
    assert "\n" not in message and url in message and "refused" in message.lower()
    assert "to stage it by hand" in message and f"infocam-data dataset=cub root={tmp_path / 'data'} local=" in message
    assert leftovers(tmp_path / "data") == []


def test_a_silent_server_times_out_instead_of_hanging(tmp_path):
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/tiny-imagenet-200.zip"
        with pytest.raises(DataError, match=r"cannot download .*tiny-imagenet-200.zip \(timed out\)"):
            fetch_dataset("tiny_imagenet", tmp_path / "data", url=url, timeout=0.5)


def test_tiny_imagenet_zip_and_a_complete_smaller_mirror(tmp_path):
    source = make_tiny_imagenet(tmp_path / "source", train_per_class=2, val_per_class=1, size=16)
    archive = zip_of(source, "tiny-imagenet-200")
    root = tmp_path / "data"
    with archive_server() as server:
        server.files["/mirror/tiny-imagenet-200.zip"] = archive
        status = fetch_dataset("tiny_imagenet", root, url=server.url("/mirror/tiny-imagenet-200.zip"), md5=md5(archive))
    assert status.complete and status.count == 3 and "the official set has 200 classes" in status.detail
    assert leftovers(root) == ["tiny-imagenet-200"]
    # an image the annotation files list goes missing: incomplete, and a fetch refuses rather than deletes
    (root / "tiny-imagenet-200" / "val" / "images" / "val_0.JPEG").unlink()
    status = dataset_status("tiny_imagenet", root)
    assert not status.complete and "1 of the 9 images the annotation files list are missing" in status.detail
    with pytest.raises(DataError, match="Tiny-ImageNet under .* is incomplete .*move .*tiny-imagenet-200 away"):
        fetch_dataset("tiny_imagenet", root, url=f"http://127.0.0.1:{closed_port()}/tiny-imagenet-200.zip")
    assert (root / "tiny-imagenet-200" / "wnids.txt").is_file()


def mnist_files(tmp_path: Path) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    files = {}
    for prefix, count in (("train", 40), ("t10k", 20)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)),
                            ("labels-idx1", (np.arange(count) % 10).astype(np.uint8))):
            name = f"{prefix}-{kind}-ubyte.gz"
            files[name] = write_idx(tmp_path / "mnist_source" / name, array).read_bytes()
    return files


MNIST_ORDER = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def test_mnist_files_fetched_from_a_mirror(tmp_path):
    files = mnist_files(tmp_path)
    with archive_server() as server:
        server.files.update({f"/mnist/{name}": data for name, data in files.items()})
        sums = ",".join(md5(files[name]) for name in MNIST_ORDER)
        status = fetch_dataset("mnist", tmp_path / "data", url=server.url("/mnist/"), md5=sums)
        assert set(server.requests) == {f"/mnist/{n}" for n in MNIST_ORDER}
    assert status.complete and status.count == 60
    assert sorted(p.name for p in (tmp_path / "data" / "MNIST" / "raw").iterdir()) == sorted(MNIST_ORDER)
    with pytest.raises(ConfigError, match="MNIST needs 4 md5 sum"):
        fetch_dataset("mnist", tmp_path / "other", md5="0" * 32)


def test_a_local_copy_is_checked_and_unpacked_the_same_way(tmp_path, cub_archive):
    archive = tmp_path / "CUB_200_2011.tgz"
    archive.write_bytes(cub_archive)
    with pytest.raises(DataError, match=r"CUB_200_2011.tgz: md5 \w+ but expected 97eceeb196236b17998738112f37df78"):
        fetch_dataset("cub", tmp_path / "data", local=archive)  # the official checksum: this is not the official file
    status = fetch_dataset("cub", tmp_path / "data", local=archive, md5=md5(cub_archive))
    assert status.complete and archive.is_file()  # the user's copy is left alone


def test_a_killed_fetch_leaves_only_its_temporary_folder_which_the_next_one_removes(tmp_path, cub_archive):
    root = tmp_path / "data"
    killed = root / ".infocam-fetch-cub-abc123" / "unpacked" / "CUB_200_2011"  # what a SIGKILL mid-unpack leaves
    killed.mkdir(parents=True)
    (killed / "images.txt").write_text("1 a/b.jpg\n")
    other = root / ".infocam-fetch-tiny_imagenet-xyz"  # another dataset's fetch, perhaps running now
    other.mkdir()
    assert not dataset_status("cub", root).present  # nothing under root looks like CUB
    with archive_server() as server:
        server.files["/CUB_200_2011.tgz"] = cub_archive
        fetch_dataset("cub", root, url=server.url("/CUB_200_2011.tgz"), md5=md5(cub_archive))
    assert leftovers(root) == [".infocam-fetch-tiny_imagenet-xyz", "CUB_200_2011"]


def test_offline_switch_opens_no_connection(tmp_path, monkeypatch, cub_archive):
    monkeypatch.setenv("INFOCAM_OFFLINE", "1")
    with archive_server() as server:
        server.files["/CUB_200_2011.tgz"] = cub_archive
        with pytest.raises(DataError, match=r"offline: INFOCAM_OFFLINE.*to stage it by hand"):
            fetch_dataset("cub", tmp_path / "data", url=server.url("/CUB_200_2011.tgz"), md5=md5(cub_archive))
        assert server.requests == []
