/* ACPI tables, just enough for SMP: find the RSDP (EBDA's first KiB, then 0xE0000..0xFFFFF on 16-byte
   boundaries; ACPI 6.5, 5.2.5.1), follow the XSDT (revision >= 2) or RSDT to the MADT ("APIC", 5.2.12) and list
   the local APIC IDs of the enabled (or online-capable) processors. acpi_madt_parse is pure (host-testable);
   acpi_find_cpus reads the identity-mapped physical memory. Used by arch/x86/smp.c. */
#ifndef ARCH_X86_ACPI_H
#define ARCH_X86_ACPI_H
#include <stddef.h>
#include <stdint.h>

/* Parse a MADT of len bytes: APIC IDs of usable processors into ids (at most max). Returns how many were found
   (may exceed max: only max are stored), or -1 when the table is malformed (signature, length, checksum). */
int acpi_madt_parse(const uint8_t *madt, size_t len, uint32_t *ids, int max, uint32_t *lapic_addr);

/* Checksum of n bytes (0 for a valid ACPI structure). */
uint8_t acpi_checksum(const uint8_t *p, size_t n);

#ifndef CLLM_HOST
/* Find the MADT and return its processors' APIC IDs (count as acpi_madt_parse), or -1 when there is no
   RSDP/MADT. ebda_seg: the real-mode segment from the BIOS data area word at 0x40E (boot.S saves it: page 0 is
   not mapped once the kernel runs). */
int acpi_find_cpus(uint32_t *ids, int max);
#endif

#endif
