"""The docker stand-in and its daemon: load, build, save, inspect, images, tag, rmi, run, daemon checks."""

import hashlib
import io
import json
import os
import stat
import tarfile

DAEMON_DOWN = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"


def docker_save_tar(repo_tags, files, cmd=("/bin/server",), env=("PATH=/usr/bin",)):
    """A `docker save` archive written by hand: one layer holding files, a config naming it."""
    layer_buffer = io.BytesIO()
    with tarfile.open(fileobj=layer_buffer, mode="w") as layer:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            layer.addfile(info, io.BytesIO(data))
    layer_bytes = layer_buffer.getvalue()
    config = {"architecture": "amd64", "os": "linux", "created": "2024-05-01T12:00:00Z",
              "config": {"Cmd": list(cmd), "Env": list(env)},
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer_bytes).hexdigest()]}}
    config_bytes = json.dumps(config).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    manifest = [{"Config": config_hex + ".json", "RepoTags": list(repo_tags), "Layers": ["abc/layer.tar"]}]
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        for name, data in (("manifest.json", json.dumps(manifest).encode()), (config_hex + ".json", config_bytes),
                           ("abc/layer.tar", layer_bytes)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue(), "sha256:" + config_hex


def test_daemon_not_running(emu):
    for args in (("images",), ("info",), ("load", "-i", "/nonexistent.tar"), ("build", "-t", "x:1", ".")):
        result = emu.docker(*args)
        assert result.rc == 1
        assert result.stderr == DAEMON_DOWN


def test_dockerd_socket_lifecycle(emu):
    emu.start_dockerd()
    sock = emu.path("/run/docker.sock")
    assert stat.S_ISSOCK(os.stat(sock).st_mode)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    assert emu.docker("info", "--format", "{{.ServerVersion}}").stdout.strip().endswith("nitro-emulator")
    assert emu.run("dockerd").returncode == 1, "a second daemon refuses to start"
    emu.stop_dockerd()
    assert not os.path.exists(sock)
    assert emu.docker("images").stderr == DAEMON_DOWN


def test_load_from_file_and_stdin(docker_emu):
    emu = docker_emu
    data, image_id = docker_save_tar(["registry.example/server:2.0"], {"bin/server": b"#!/bin/sh\n"})
    path = emu.write("/tmp/server.tar", data)
    loaded = emu.docker("load", "-i", path)
    assert loaded.rc == 0, loaded
    assert loaded.stdout == "Loaded image: registry.example/server:2.0\n"
    again = emu.docker("load", stdin_data=data)
    assert again.rc == 0 and again.stdout == "Loaded image: registry.example/server:2.0\n"

    inspect = emu.docker("image", "inspect", "registry.example/server:2.0")
    assert inspect.rc == 0
    info = inspect.json()[0]
    assert info["Id"] == image_id
    assert info["RepoTags"] == ["registry.example/server:2.0"]
    assert info["Config"]["Cmd"] == ["/bin/server"] and info["Config"]["Env"] == ["PATH=/usr/bin"]
    assert info["Created"] == "2024-05-01T12:00:00Z"
    assert emu.docker("inspect", "--format", "{{.Id}}", image_id[7:19]).stdout == image_id + "\n"
    assert emu.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == "registry.example/server:2.0\n"
    assert emu.docker("images", "-q").stdout == image_id[7:19] + "\n"


def test_load_checks_layers(docker_emu):
    data, _image_id = docker_save_tar(["bad:1"], {"f": b"x"})
    corrupted = data.replace(b'"diff_ids": ["sha256:', b'"diff_ids": ["sha256:0')
    result = docker_emu.docker("load", stdin_data=corrupted)
    assert result.rc == 1
    broken = docker_emu.docker("load", stdin_data=b"definitely not a tar archive")
    assert broken.rc == 1
    assert docker_emu.docker("images", "-q").stdout == ""


def test_missing_image(docker_emu):
    result = docker_emu.docker("image", "inspect", "nothere:1")
    assert result.rc == 1
    assert result.stdout.strip() == "[]"
    assert "No such image: nothere:1" in result.stderr


def test_build_is_deterministic(docker_emu):
    emu = docker_emu
    context = emu.build_image("web:1", {"app.py": "print('hi')\n"},
                              dockerfile='FROM scratch\nWORKDIR /srv\nCOPY . .\nENV MODE=prod\nENTRYPOINT ["python3", "app.py"]\n')
    result = emu.docker("build", "-t", "web:2", context)
    assert result.rc == 0
    first_id = emu.docker("inspect", "-f", "{{.Id}}", "web:1").stdout.strip()
    assert emu.docker("inspect", "-f", "{{.Id}}", "web:2").stdout.strip() == first_id
    assert "Successfully built %s\n" % first_id[7:19] in result.stdout
    assert result.stdout.endswith("Successfully tagged web:2\n")
    config = emu.docker("inspect", "web:1").json()[0]["Config"]
    assert config["Entrypoint"] == ["python3", "app.py"]
    assert config["Env"] == ["MODE=prod"] and config["WorkingDir"] == "/srv"

    with open(os.path.join(context, "app.py"), "w") as handle:
        handle.write("print('changed')\n")
    assert emu.docker("build", "-t", "web:3", context).rc == 0
    assert emu.docker("inspect", "-f", "{{.Id}}", "web:3").stdout.strip() != first_id


def test_build_errors(docker_emu):
    missing_dir = docker_emu.docker("build", "-t", "x:1", os.path.join(docker_emu.root, "nope"))
    assert missing_dir.rc == 1 and "unable to prepare context" in missing_dir.stderr
    bad_tag = docker_emu.docker("build", "-t", "Upper:1", docker_emu.root)
    assert bad_tag.rc == 125 and "invalid reference format" in bad_tag.stderr
    unknown_flag = docker_emu.docker("build", "--frobnicate", ".")
    assert unknown_flag.rc == 125


def test_save_round_trip(docker_emu, make_emulator):
    emu = docker_emu
    emu.build_image("keep:1", {"data.txt": "payload\n"})
    image_id = emu.docker("inspect", "-f", "{{.Id}}", "keep:1").stdout.strip()
    first = os.path.join(emu.root, "one.tar")
    second = os.path.join(emu.root, "two.tar")
    assert emu.docker("save", "-o", first, "keep:1").rc == 0
    assert emu.docker("save", "-o", second, "keep:1").rc == 0
    with open(first, "rb") as one, open(second, "rb") as two:
        saved = one.read()
        assert saved == two.read()

    other = make_emulator("other")
    other.start_dockerd()
    loaded = other.docker("load", "-i", first)
    assert loaded.stdout == "Loaded image: keep:1\n"
    assert other.docker("inspect", "-f", "{{.Id}}", "keep:1").stdout.strip() == image_id


def test_tag_and_rmi(docker_emu):
    emu = docker_emu
    emu.build_image("base:1", {"a": "a\n"})
    assert emu.docker("tag", "base:1", "alias:latest").rc == 0
    assert emu.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.splitlines() == ["alias:latest", "base:1"]
    removed = emu.docker("rmi", "alias")
    assert removed.rc == 0 and removed.stdout == "Untagged: alias:latest\n"
    image_id = emu.docker("inspect", "-f", "{{.Id}}", "base:1").stdout.strip()
    removed = emu.docker("rmi", "base:1")
    assert removed.stdout == "Untagged: base:1\nDeleted: %s\n" % image_id
    assert emu.docker("images", "-q").stdout == ""
    assert emu.docker("rmi", "base:1").rc == 1


def test_run_needs_a_tty_for_it(docker_emu):
    emu = docker_emu
    emu.build_image("tool:1", {"x": "x\n"})
    interactive = emu.docker("run", "-it", "--rm", "tool:1", "sh")
    assert interactive.rc == 1
    assert interactive.stderr == "the input device is not a TTY\n"
    detached = emu.docker("run", "--rm", "-e", "A=1", "tool:1", "sh", "-c", "true")
    assert detached.rc == 0
    assert "not executed" in detached.stderr
    unknown = emu.docker("run", "--rm", "ghost:1")
    assert unknown.rc == 125
    assert "Unable to find image 'ghost:1' locally" in unknown.stderr
