"""Where each dataset's official files live, and their checksums (each with its source).

A :class:`Source` is either one archive (CUB-200-2011, Tiny-ImageNet) that unpacks to one
folder, or a list of single files (MNIST's four IDX files, which the reader takes gzipped).
``mirrors`` are tried in order when one cannot be reached; a wrong checksum is never retried.
``url=`` / ``data.download_url`` replace the mirrors (for MNIST: a base URL the file names are
appended to), ``md5=`` / ``data.download_md5`` the checksum (for MNIST: four, comma-separated,
in :data:`MNIST_FILES` order); a mirror of the same archive needs only ``url``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import PurePosixPath

from infocam.errors import ConfigError


@dataclass(frozen=True)
class Source:
    """One dataset's download: ``files`` are (name, md5) under each mirror (archives: one file)."""

    name: str
    title: str
    mirrors: tuple[str, ...]
    files: tuple[tuple[str, str], ...]
    #: the folder under ``root`` the data lands in (the archive's top folder, or MNIST/raw)
    target: str
    #: True: ``files[0]`` is an archive unpacked into ``target``; False: the files go into ``target``
    archive: bool
    #: approximate download and unpacked sizes (bytes), for the free-disk check only
    download_bytes: int
    unpacked_bytes: int

    def urls(self, filename: str) -> list[str]:
        """Every mirror's URL for ``filename`` (an archive mirror is the full URL already)."""
        if self.archive:
            return list(self.mirrors)
        return [mirror.rstrip("/") + "/" + filename for mirror in self.mirrors]


# CUB-200-2011 (Wah et al. 2011). The dataset's page moved to CaltechDATA, record 65de6-vp158
# (https://data.caltech.edu/records/65de6-vp158); the archive's former address on
# www.vision.caltech.edu is the one the InfoCAM authors' README links (info_cam/CUB-200-2011/
# README.md of kfzyqin/Research-Softmax-with-Mutual-Information) and many loaders still use.
# md5 97eceeb196236b17998738112f37df78: the checksum every torchvision-style CUB loader checks
# (e.g. avalanche's benchmarks/datasets CUB200 `tgz_md5`) and a record of a CaltechDATA download.
CUB = Source(
    name="cub",
    title="CUB-200-2011",
    mirrors=(
        "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz",
        "http://www.vision.caltech.edu/visipedia-data/CUB-200-2011/CUB_200_2011.tgz",
    ),
    files=(("CUB_200_2011.tgz", "97eceeb196236b17998738112f37df78"),),
    target="CUB_200_2011",
    archive=True,
    download_bytes=1_150_585_339,
    unpacked_bytes=1_200_000_000,
)

# Tiny-ImageNet-200 (Stanford CS231n). The authors' README (info_cam/Tiny-ImageNet/README.md)
# links tiny-imagenet.herokuapp.com, which is gone; the course's own address serves the same
# archive. md5 90528d7ca1a48142e341f4ef8d21d0de (248,100,043 bytes): the checksum of the
# torchvision-style Tiny-ImageNet loaders (e.g. avalanche's TinyImagenet `md5`).
TINY_IMAGENET = Source(
    name="tiny_imagenet",
    title="Tiny-ImageNet",
    mirrors=("http://cs231n.stanford.edu/tiny-imagenet-200.zip",),
    files=(("tiny-imagenet-200.zip", "90528d7ca1a48142e341f4ef8d21d0de"),),
    target="tiny-imagenet-200",
    archive=True,
    download_bytes=248_100_043,
    unpacked_bytes=480_000_000,
)


def _torchvision_mnist() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """MNIST's mirrors and (file, md5) pairs, read from torchvision's own MNIST class
    (``torchvision.datasets.MNIST.mirrors`` / ``.resources``) rather than copied here."""
    from torchvision.datasets import MNIST

    return tuple(MNIST.mirrors), tuple((str(n), str(m)) for n, m in MNIST.resources)


_MNIST_MIRRORS, _MNIST_FILES = _torchvision_mnist()
MNIST = Source(
    name="mnist",
    title="MNIST",
    mirrors=_MNIST_MIRRORS,
    files=_MNIST_FILES,
    target="MNIST/raw",
    archive=False,
    download_bytes=11_594_722,
    unpacked_bytes=11_594_722,  # kept gzipped: the reader takes .gz
)

SOURCES: dict[str, Source] = {s.name: s for s in (CUB, TINY_IMAGENET, MNIST)}


def source_for(name: str, url: str | None = None, md5: str | None = None) -> Source:
    """The named source, with ``url``/``md5`` overrides applied (checked, one line on error)."""
    if name not in SOURCES:
        raise ConfigError(f"dataset={name!r} cannot be fetched; choose one of {', '.join(sorted(SOURCES))}")
    source = SOURCES[name]
    if url:
        if not str(url).startswith(("http://", "https://")):
            raise ConfigError(f"url={url!r}: expected an http:// or https:// address (a file already here: local=PATH)")
        source = replace(source, mirrors=(str(url),))
    if md5:  # without one, a mirror's file must be the official one: its checksum still applies
        sums = [s.strip().lower() for s in str(md5).split(",")]
        if len(sums) != len(source.files) or not all(len(s) == 32 and all(c in "0123456789abcdef" for c in s) for s in sums):
            raise ConfigError(
                f"md5={md5!r}: {source.title} needs {len(source.files)} md5 sum(s) of 32 hex digits"
                + (f", comma-separated in the order {', '.join(n for n, _ in source.files)}" if len(source.files) > 1 else "")
            )
        source = replace(source, files=tuple((name_, s) for (name_, _), s in zip(source.files, sums)))
    name_in_url = PurePosixPath(source.mirrors[0].split("?", 1)[0]).name
    if source.archive and url and name_in_url and not name_in_url.endswith((".tgz", ".tar.gz", ".zip", ".tar")):
        raise ConfigError(f"url={url!r}: the address must end in the archive's name (.tgz, .tar.gz, .tar or .zip)")
    if source.archive and url:  # keep the mirror's own file name: torchvision picks the unpacker by suffix
        source = replace(source, files=((name_in_url, source.files[0][1]),))
    return source
