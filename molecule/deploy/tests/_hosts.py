"""Target only some of the scenario's hosts from a test module (testinfra_hosts)."""
import os


def hosts(*names):
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE", "")
    return ["ansible://%s?ansible_inventory=%s" % (name, inventory) for name in names]
