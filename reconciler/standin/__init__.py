"""Stand-in apps: one standard-library program with a profile per app (bitcoind, lnd, electrumx,
btcpay, mempool, fedimint, ui) that models what the lifecycle matrix checks. See docs/architecture.md
"Stand-in status"."""
