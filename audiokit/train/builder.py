"""The single layer that reads configs: Hydra config -> model, task, data, Trainer; then fit.

A training config (see recipes/*/conf/*.yaml) has these top-level groups::

    seed: 0                 # seeds python/numpy/torch and every sampler
    sample_rate: 44100
    data:   {train: <dataloader cfg>, valid: <dataloader cfg>}
    model:  {_target_: audiokit.models.effects.tcn.TCN, ...constructor args}
    task:   {_target_: audiokit.tasks.effects.EffectsTask, loss: {...}, optimizer: {...}}
    ema:    {decay: 0.999}  # or null
    checkpoint: {monitor: val/esr, mode: min, every_n_steps: 50}
    trainer: {...}          # passed to lightning.Trainer (max_steps, devices, strategy, precision, ...)

Outputs under ``exp_dir``: ``config.yaml`` (resolved), ``checkpoints/last.ckpt`` (resume),
``best.pt`` / ``last.pt`` (weights-only models), ``tb/`` (TensorBoard).
"""
from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from audiokit.data.kaldi import DataDir
from audiokit.train.callbacks import EMA, ModelExport, RNGState
from audiokit.train.checkpoint import AtomicCheckpointIO
from audiokit.train.datamodule import AudioDataModule
from audiokit.utils import AudiokitError, write_text_atomic
from audiokit.version import __version__

log = logging.getLogger(__name__)
REQUIRED = ("data", "model", "task", "trainer")


class TrainingStopped(AudiokitError):
    """Training ended before ``max_steps`` because the process was asked to stop (SIGTERM)."""


class ConfigError(AudiokitError, ValueError):
    """A training config is missing a group or field, or has a wrong value."""


@dataclass
class TrainResult:
    exp_dir: Path
    best: Path
    last: Path
    best_score: float | None


def compose_config(config: str | Path, overrides: Sequence[str] = ()) -> DictConfig:
    """Load ``config`` (a YAML file, may use Hydra defaults lists) with ``key=value`` overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    config = Path(config).resolve()
    if not config.is_file():
        raise ConfigError(f"config file not found: '{config}'")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config.parent), version_base=None):
            cfg = compose(config_name=config.stem, overrides=list(overrides))
    except Exception as e:  # hydra raises several types for bad overrides / missing groups
        raise ConfigError(f"{config}: {e}") from e
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise ConfigError(f"{config}: missing top-level groups {missing} (need {list(REQUIRED)})")
    return cfg


def _model_spec(cfg: DictConfig) -> tuple[str, dict]:
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    if not isinstance(model_cfg, dict) or "_target_" not in model_cfg:
        raise ConfigError("model: expected a mapping with _target_ (the model class import path)")
    target = model_cfg.pop("_target_")
    return target, model_cfg


def _stored_args(target: str, args: dict) -> dict:
    """The model's arguments as its checkpoint keeps them: without the ones its builder lists in
    ``init_only_args`` (e.g. a pretrained checkpoint to start from), which only initialise weights that the
    trained state dict replaces, so a trained model does not depend on that file."""
    init_only = getattr(hydra.utils.get_object(target), "init_only_args", ())
    return {k: v for k, v in args.items() if k not in init_only}


def build_task(cfg: DictConfig):
    """Model from ``cfg.model`` then the task around it. Returns (task, (target, args)), ``args`` as the
    model's checkpoint stores them (see :func:`_stored_args`)."""
    target, args = _model_spec(cfg)
    try:
        model = hydra.utils.instantiate(cfg.model)
    except Exception as e:
        raise ConfigError(f"model: cannot build {target}: {e}") from e
    try:
        task = hydra.utils.instantiate(cfg.task, model=model, _recursive_=False)
    except Exception as e:
        raise ConfigError(f"task: cannot build {cfg.task.get('_target_')}: {e}") from e
    return task, (target, _stored_args(target, args))


def _metadata(cfg: DictConfig) -> dict[str, Any]:
    meta: dict[str, Any] = {"audiokit_version": __version__,
                            "config": OmegaConf.to_yaml(cfg, resolve=True),
                            "train_data": str(cfg.data.train.dir)}
    if cfg.data.train.get("with_params"):
        meta["knobs"] = DataDir(cfg.data.train.dir).knob_schema().to_json()
    return meta


def build_trainer(cfg: DictConfig, exp_dir: Path, spec: dict, extra_callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    ck = cfg.get("checkpoint") or {}
    # Tasks that optimise manually (CodecTask's generator/discriminator steps) save the state after the step
    # a checkpoint is named by, which is what an exact resume needs (tests/test_task_codec.py): Lightning's
    # advice to save the pre-optimisation state does not apply.
    warnings.filterwarnings("ignore", message="Using ModelCheckpoint with manual optimization")
    ema = EMA(float(cfg.ema.decay)) if cfg.get("ema") else None
    callbacks: list[L.Callback] = [
        RNGState(),
        ModelCheckpoint(dirpath=exp_dir / "checkpoints", filename="step{step}", save_top_k=0, save_last=True,
                        every_n_train_steps=int(ck.get("every_n_steps", 50)), auto_insert_metric_name=False),
        ModelExport(exp_dir, monitor=ck.get("monitor", "val/loss"), mode=ck.get("mode", "min"), spec=spec, ema=ema),
        LearningRateMonitor(logging_interval="step"),
    ]
    if ema is not None:
        callbacks.insert(0, ema)
    callbacks += list(extra_callbacks)
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_cfg.setdefault("check_val_every_n_epoch", None)  # validate every N *steps*, across epochs
    try:
        return L.Trainer(default_root_dir=str(exp_dir), callbacks=callbacks,
                         logger=TensorBoardLogger(str(exp_dir), name="tb", version=""),
                         plugins=[AtomicCheckpointIO()], use_distributed_sampler=False, **trainer_cfg)
    except TypeError as e:
        raise ConfigError(f"trainer: {e}") from e


def train(cfg: DictConfig, exp_dir: str | Path, resume: bool = True,
          callbacks: Sequence[L.Callback] = ()) -> TrainResult:
    """Fit ``cfg`` into ``exp_dir``. With ``resume``, continue from ``checkpoints/last.ckpt`` if present.

    ``callbacks`` are added to the ones the config asks for (e.g. to observe a run in tests).
    """
    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(int(cfg.get("seed", 0)), workers=True, verbose=False)
    task, (target, args) = build_task(cfg)
    spec = {"target": target, "args": args, "family": task.family,
            "sample_rate": int(cfg.get("sample_rate", getattr(task.model, "sample_rate", 0))),
            "metadata": _metadata(cfg)}
    trainer = build_trainer(cfg, exp_dir, spec, callbacks)
    if trainer.is_global_zero:
        write_text_atomic(exp_dir / "config.yaml", OmegaConf.to_yaml(cfg, resolve=True))
    data = AudioDataModule(cfg.data.train, cfg.data.get("valid"))
    last = exp_dir / "checkpoints" / "last.ckpt"
    ckpt_path = str(last) if resume and last.exists() else None
    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
    try:
        trainer.fit(task, datamodule=data, ckpt_path=ckpt_path)
    except SIGTERMException:
        # Lightning stops on SIGTERM with SystemExit(None), i.e. exit status 0, as if training were done:
        # keep the exact state and fail, so that a recipe does not mark the stage finished and go on
        # with a half-trained model.
        trainer.save_checkpoint(last)
        raise TrainingStopped(f"{exp_dir}: training stopped by SIGTERM at step {trainer.global_step}; state saved "
                              f"to {last}; run the same command again to resume") from None
    export = next(c for c in trainer.callbacks if isinstance(c, ModelExport))
    return TrainResult(exp_dir, exp_dir / "best.pt", exp_dir / "last.pt", export.best)
