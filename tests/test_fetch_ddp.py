"""data.download=true under DDP: two gloo ranks (ddp_fork: no second import of torch), only rank
0 fetches, both read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import lightning as L
import torch
from torch import nn

from fixtures.archive_server import archive_server, md5
from infocam.data.mnist import MNISTDataModule
from test_fetch import MNIST_ORDER, mnist_files


class RecordingMNIST(MNISTDataModule):
    """Writes a marker for every rank that runs prepare_data (Lightning: local rank 0 only)."""

    def __init__(self, markers: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.markers = markers

    def prepare_data(self) -> None:
        Path(self.markers, f"prepare_rank{self.trainer.global_rank}").touch()
        super().prepare_data()


class Probe(L.LightningModule):
    """One linear layer; records, per rank, how many training images its setup read."""

    def __init__(self, markers: str) -> None:
        super().__init__()
        self.markers = markers
        self.layer = nn.Linear(28 * 28, 10)

    def setup(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        datamodule.setup(stage)
        record = {"train": len(datamodule.splits["train"]), "pid": os.getpid()}
        Path(self.markers, f"setup_rank{self.global_rank}.json").write_text(json.dumps(record))

    def training_step(self, batch, batch_idx):
        images, labels = batch
        return nn.functional.cross_entropy(self.layer(images.flatten(1)), labels)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_two_gloo_ranks_only_rank_zero_fetches_and_both_read(tmp_path):
    files = mnist_files(tmp_path)
    markers = tmp_path / "markers"
    markers.mkdir()
    with archive_server() as server:
        server.files.update({f"/mnist/{name}": data for name, data in files.items()})
        datamodule = RecordingMNIST(str(markers), root=str(tmp_path / "data"), balance="original", val_fraction=0.25,
                                    batch_size=4, eval_batch_size=4, download=True, download_url=server.url("/mnist/"),
                                    download_md5=",".join(md5(files[n]) for n in MNIST_ORDER))
        trainer = L.Trainer(strategy="ddp_fork", accelerator="cpu", devices=2, max_steps=1, limit_val_batches=0,
                            logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, use_distributed_sampler=False)
        trainer.fit(Probe(str(markers)), datamodule=datamodule)
        requests = list(server.requests)
    assert sorted(p.name for p in markers.glob("prepare_rank*")) == ["prepare_rank0"]
    # one process downloaded each file once (torchvision's redirect probe + the transfer)
    assert sorted(requests) == sorted(f"/mnist/{n}" for n in MNIST_ORDER for _ in range(2))
    records = [json.loads((markers / f"setup_rank{r}.json").read_text()) for r in (0, 1)]
    assert records[0]["pid"] != records[1]["pid"] and records[0]["train"] == records[1]["train"] == 30
