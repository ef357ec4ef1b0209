"""One LightningModule per model family: how a batch becomes losses and metrics."""
