"""Question answering: retrieval-augmented, access-controlled, grounded answers with citations.

Reusable pieces for other brains: :func:`brain.qa.units.build_units` (retrieval units from
messages), the ``embedder`` and ``unit_index`` services registered by
:func:`brain.qa.services.ensure_services`.
"""
