"""Model families: one file per architecture, one base class per family."""
