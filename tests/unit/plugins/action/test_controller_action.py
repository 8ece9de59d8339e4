"""The action plugins of attestation_probe and registry_quote: in Ansible's worker on the controller, else the module.

The end-to-end test runs ansible-playbook on the implicit localhost against stand-ins on 127.0.0.1 (an oracle
serving a document signed by a test CA, a registry quoting the oracle). Each task runs twice: with
ansible-playbook's own Python (in the worker) and with a wrapper interpreter that records every start (the
module). The results must be the same, the wrapper must have started for each module run, and the worker's runs must
not have gone through AnsibleModule.
"""

import json
import os
import subprocess
import sys
import threading

import pytest

import attestation_builder as builder
from ansible_collections.opencontracts.enclave.plugins.plugin_utils.controller_action import runs_in_process

sync_server = pytest.importorskip("websockets.sync.server")

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PYTHON = "/opt/python/bin/python3"
PERMITTED = builder.pcr(0xA5).hex()
OTHER = builder.pcr(0x5A).hex()


@pytest.mark.parametrize("overrides, expected", [
    ({}, True),
    ({"transport": "ssh"}, False),
    ({"transport": "podman"}, False),
    ({"interpreter": None}, False),
    ({"interpreter": "/usr/bin/python3"}, False),
    ({"become": True}, False),
    ({"async_seconds": 30}, False),
    ({"environment": [{"HTTPS_PROXY": "http://127.0.0.1:3128"}]}, False),
    ({"environment": [{}]}, True),
    ({"environment": None}, True),
])
def test_only_a_local_run_with_ansible_s_own_python_and_nothing_else_runs_in_the_worker(overrides, expected):
    arguments = dict(transport="local", interpreter=PYTHON, become=False, async_seconds=0, environment=[{}],
                     executable=PYTHON)
    arguments.update(overrides)
    assert runs_in_process(**arguments) is expected


@pytest.fixture(name="servers", scope="module")
def fixture_servers():
    """An oracle that answers get_attestation with a signed test document, and a registry that quotes it."""
    ca = builder.TestCA(builder.now())
    document = builder.document(ca)
    answers = {
        "get_attestation": json.dumps({"fname": "attestation", "attestation": document.hex(), "signThis": "cd" * 32}),
        "get_oracle": json.dumps({"fname": "return_oracle", "ip": "127.0.0.1", "price": "750000000000000000",
                                  "registryPrice": 10 ** 17, "provider": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                                  "registrySignature": "0xsig"}),
    }

    def handler(connection):
        for message in connection:
            connection.send(answers[json.loads(message)["fname"]])

    server = sync_server.serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": "ws://127.0.0.1:%d" % server.socket.getsockname()[1], "root_pem": ca.root_pem()}
    server.shutdown()
    thread.join(5)


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    both_ways:
      in_worker: "{{ ansible_playbook_python }}"
      as_module: %(wrapper)s
  tasks:
    - name: Probe and verify
      opencontracts.enclave.attestation_probe:
        url: %(url)s
        allowed_pcr0: [%(other)s, %(permitted)s]
        root_certificate: %(root)s
        max_age_seconds: 60
      vars:
        ansible_python_interpreter: "{{ both_ways[item] }}"
      loop: [in_worker, as_module]
      register: probe

    - name: A document that does not verify
      opencontracts.enclave.attestation_probe:
        url: %(url)s
        allowed_pcr0: [%(other)s]
        root_certificate: %(root)s
      vars:
        ansible_python_interpreter: "{{ both_ways[item] }}"
      loop: [in_worker, as_module]
      register: refused
      ignore_errors: true

    - name: The quote, judged for the oracle
      opencontracts.enclave.registry_quote:
        url: %(url)s
        address: 127.0.0.1
        price_wei: 750000000000000000
        provider: "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
      vars:
        ansible_python_interpreter: "{{ both_ways[item] }}"
      loop: [in_worker, as_module]
      register: quote

    - name: An option the module checks itself
      opencontracts.enclave.registry_quote:
        url: http://127.0.0.1:1
        busy: true
      vars:
        ansible_python_interpreter: "{{ both_ways[item] }}"
      loop: [in_worker, as_module]
      register: bad_option
      ignore_errors: true

    - name: An option the module does not have
      opencontracts.enclave.attestation_probe:
        url: %(url)s
        pcr0: [%(permitted)s]
      vars:
        ansible_python_interpreter: "{{ both_ways[item] }}"
      loop: [in_worker, as_module]
      register: unknown_option
      ignore_errors: true

    - name: Keep the results
      ansible.builtin.copy:
        dest: %(results)s
        content: "{{ {'probe': probe.results, 'refused': refused.results, 'quote': quote.results,
                      'bad_option': bad_option.results, 'unknown_option': unknown_option.results} | to_json }}"
        mode: "0600"
"""


def comparable(result):
    """A registered loop item without what differs between two runs of the same code (time, the way it ran)."""
    ignored = {"elapsed", "invocation", "item", "ansible_loop_var", "exception", "_ansible_no_log",
               "_ansible_item_label", "_ansible_ignore_errors", "warnings", "deprecations"}
    result = {key: value for key, value in result.items() if key not in ignored}
    if isinstance(result.get("verification"), dict):
        result["verification"] = {key: value for key, value in result["verification"].items() if key != "age_seconds"}
    return result


@pytest.fixture(name="run_both_ways", scope="module")
def fixture_run_both_ways(servers, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("both-ways")
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(ansible_playbook):
        pytest.skip("ansible-playbook is not installed next to this Python")
    root = tmp_path / "root.pem"
    root.write_bytes(servers["root_pem"])
    starts = tmp_path / "module-starts"
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text('#!/bin/sh\necho started >> "%s"\nexec "%s" "$@"\n' % (starts, sys.executable))
    wrapper.chmod(0o755)
    results = tmp_path / "results.json"
    (tmp_path / "playbook.yml").write_text(PLAYBOOK % dict(
        url=servers["url"], wrapper=wrapper, root=root, results=results, permitted=PERMITTED, other=OTHER))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, ".cache", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    run = subprocess.run([ansible_playbook, "playbook.yml"], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout
    module_starts = len(starts.read_text().splitlines()) if starts.exists() else 0
    return json.loads(results.read_text()), module_starts


def test_the_worker_gives_the_module_s_results_without_starting_a_python(run_both_ways):
    results, module_starts = run_both_ways
    # One start per module run (the as_module item of each of the five tasks).
    assert module_starts == 5
    for task, (in_worker, as_module) in results.items():
        assert in_worker["item"] == "in_worker" and as_module["item"] == "as_module", task
        # AnsibleModule adds `invocation` to every result it returns: the in_worker item ran no module, with the
        # same interpreter path a module would have started.
        assert "invocation" not in in_worker and "invocation" in as_module, task
        if task != "unknown_option":
            assert comparable(in_worker) == comparable(as_module), task


def test_both_ways_verify_the_document_and_judge_the_quote(run_both_ways):
    results, dummy = run_both_ways
    for probe in results["probe"]:
        assert probe["failed"] is False and probe["status"] == "attestation"
        assert probe["verification"]["verified"] is True and probe["verification"]["matched_pcr0"] == PERMITTED
    for refused in results["refused"]:
        assert refused["failed"] is True and refused["verification"]["verified"] is False
        assert refused["msg"].startswith("the attestation document of ws://127.0.0.1:")
    for quote in results["quote"]:
        assert quote["failed"] is False and quote["verdict"]["state"] == "registered"
    for bad in results["bad_option"]:
        assert bad["failed"] is True and "url must start with ws:// or wss://" in bad["msg"]
        assert "busy needs price_wei" in bad["msg"]


def test_an_unknown_option_fails_clearly_both_ways(run_both_ways):
    results, dummy = run_both_ways
    for unknown in results["unknown_option"]:
        assert unknown["failed"] is True
        assert "Unsupported parameters" in unknown["msg"] and "pcr0" in unknown["msg"], unknown["msg"]
