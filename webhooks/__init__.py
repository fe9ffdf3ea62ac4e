"""PEP talks back: signed event webhooks in, an inbox, snapshots and reward-shop fulfilment."""
