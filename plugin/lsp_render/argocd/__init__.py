"""What Argo CD hands the plugin: its environment, the parameters it announces and receives."""
