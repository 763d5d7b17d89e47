"""The agent environment and rollouts: tools, the ReAct loop, trajectory styles, formats."""
