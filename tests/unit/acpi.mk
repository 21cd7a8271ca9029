# ACPI S5 discovery (drivers/acpi/acpi.c) against real QEMU and synthetic tables.
UNIT_TESTS += test_acpi
test_acpi_SRCS := tests/unit/test_acpi.c drivers/acpi/acpi.c
