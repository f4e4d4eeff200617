"""What the meta-agent learns from its own run: novelty, insight notes, prompt variants."""
