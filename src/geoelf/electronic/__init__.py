"""A cheap electronic structure of periodic hydrogen: the one-shot minimal-basis Kohn–Sham fields
(ρ, ∇ρ, τ, ELF, χ) of superposed neutral atoms, for the network to read as input."""
