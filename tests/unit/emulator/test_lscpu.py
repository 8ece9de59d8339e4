"""lscpu stand-in: the emulated instance's topology, in the formats the allocator readers parse."""


def test_parseable_view_follows_the_machine(emu):
    emu.machine("[machine]\nvcpus = 8\nthreads_per_core = 2\n")
    result = emu.run("lscpu", "-p=CPU,CORE")
    assert result.returncode == 0
    rows = [line for line in result.stdout.decode().splitlines() if not line.startswith("#")]
    # Linux on EC2: the first thread of every core first, so CPU 1's sibling is CPU 5.
    assert rows == ["0,0", "1,1", "2,2", "3,3", "4,0", "5,1", "6,2", "7,3"]


def test_summary_view_has_the_allocators_fields(emu):
    result = emu.run("lscpu")
    lines = dict(line.split(":", 1) for line in result.stdout.decode().splitlines())
    assert lines["CPU(s)"].strip() == "16"
    assert lines["Thread(s) per core"].strip() == "2"
    assert lines["NUMA node(s)"].strip() == "1"


def test_unknown_column_fails(emu):
    result = emu.run("lscpu", "-p=CPU,FOO")
    assert result.returncode == 1
    assert b"unknown column" in result.stderr
