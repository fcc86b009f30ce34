"""What a person does to the state: each rule lives here, and the CLI and panel only call it."""
