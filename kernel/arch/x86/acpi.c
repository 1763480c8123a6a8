/* ACPI: RSDP -> RSDT/XSDT -> MADT -> processor local APIC IDs (see acpi.h). Layouts from the ACPI 6.5
   specification: RSDP 5.2.5.3, system description table header 5.2.6, MADT 5.2.12 (entry type 0 "Processor
   Local APIC": ACPI processor UID, APIC ID, flags bit 0 Enabled, bit 1 Online Capable; type 9 "Processor
   Local x2APIC": x2APIC ID at +4, flags at +8). */
#include "arch/x86/acpi.h"
#include "lib/string.h"

#define MADT_HEADER 44  /* 36-byte table header + local APIC address (4) + flags (4) */

static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

uint8_t acpi_checksum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

int acpi_madt_parse(const uint8_t *madt, size_t len, uint32_t *ids, int max, uint32_t *lapic_addr)
{
    if (len < MADT_HEADER || memcmp(madt, "APIC", 4) != 0)
        return -1;
    uint32_t tlen = rd32(madt + 4);
    if (tlen < MADT_HEADER || tlen > len || acpi_checksum(madt, tlen) != 0)
        return -1;
    if (lapic_addr)
        *lapic_addr = rd32(madt + 36);
    int n = 0;
    for (uint32_t off = MADT_HEADER; off + 2 <= tlen;) {
        uint8_t type = madt[off], elen = madt[off + 1];
        if (elen < 2 || off + elen > tlen)
            return -1;
        uint32_t id = 0, flags = 0;
        int cpu = 0;
        if (type == 0 && elen >= 8) {
            id = madt[off + 3];
            flags = rd32(madt + off + 4);
            cpu = 1;
        } else if (type == 9 && elen >= 16) {
            id = rd32(madt + off + 4);
            flags = rd32(madt + off + 8);
            cpu = 1;
        }
        if (cpu && (flags & 3)) {
            int dup = 0;
            for (int i = 0; i < n && i < max; i++)
                dup |= ids[i] == id;
            if (!dup) {
                if (n < max)
                    ids[n] = id;
                n++;
            }
        }
        off += elen;
    }
    return n;
}

#ifndef CLLM_HOST
#include "core/log.h"

extern volatile uint32_t bda_ebda_seg;  /* boot.S: the word at 0x40E, read before page 0 was unmapped */

/* A physical range the CPL-3 kernel may read: identity-mapped below 4 GiB, not in page 0. */
static const uint8_t *phys(uint64_t addr, uint64_t len)
{
    if (addr < 0x1000 || addr + len > 0xfec00000ull || addr + len < addr)
        return NULL;
    return (const uint8_t *)(uintptr_t)addr;
}

static const uint8_t *rsdp_scan(uint64_t base, uint64_t len)
{
    const uint8_t *p = phys(base, len);
    if (!p)
        return NULL;
    for (uint64_t off = 0; off + 20 <= len; off += 16)
        if (memcmp(p + off, "RSD PTR ", 8) == 0 && acpi_checksum(p + off, 20) == 0)
            return p + off;
    return NULL;
}

/* A table's header at addr, checked (length sane, checksum 0); NULL otherwise. */
static const uint8_t *table_at(uint64_t addr, uint32_t *len)
{
    const uint8_t *h = phys(addr, 36);
    if (!h)
        return NULL;
    uint32_t l = rd32(h + 4);
    if (l < 36 || l > (1u << 20) || !phys(addr, l) || acpi_checksum(h, l) != 0)
        return NULL;
    *len = l;
    return h;
}

int acpi_find_cpus(uint32_t *ids, int max)
{
    const uint8_t *rsdp = NULL;
    uint64_t ebda = (uint64_t)bda_ebda_seg << 4;
    if (ebda >= 0x80000 && ebda < 0xa0000)
        rsdp = rsdp_scan(ebda, 1024);
    if (!rsdp)
        rsdp = rsdp_scan(0xe0000, 0x20000);
    if (!rsdp) {
        log_warn("acpi: no RSDP");
        return -1;
    }
    uint32_t slen;
    const uint8_t *sdt = NULL;
    int entry = 4;
    if (rsdp[15] >= 2 && phys((uintptr_t)rsdp, 36) && acpi_checksum(rsdp, 36) == 0 && rd64(rsdp + 24)) {
        sdt = table_at(rd64(rsdp + 24), &slen);
        entry = 8;
    }
    if (!sdt) {
        sdt = table_at(rd32(rsdp + 16), &slen);
        entry = 4;
    }
    if (!sdt) {
        log_warn("acpi: RSDP at %p points to no valid RSDT/XSDT", (const void *)rsdp);
        return -1;
    }
    for (uint32_t off = 36; off + entry <= slen; off += entry) {
        uint64_t a = entry == 8 ? rd64(sdt + off) : rd32(sdt + off);
        uint32_t tlen;
        const uint8_t *t = table_at(a, &tlen);
        if (t && memcmp(t, "APIC", 4) == 0) {
            uint32_t lapic = 0;
            int n = acpi_madt_parse(t, tlen, ids, max, &lapic);
            log_info("acpi: MADT at %#llx (%s), local APIC %#x, %d processor(s)", (unsigned long long)a,
                     entry == 8 ? "XSDT" : "RSDT", (unsigned)lapic, n);
            return n;
        }
    }
    log_warn("acpi: no MADT");
    return -1;
}
#endif
