/*
 * bcryptprimitives.dll for Wine 8 (Debian 12), which lacks it.
 *
 * Rust's standard library on Windows takes its random numbers from
 * ProcessPrng in bcryptprimitives.dll, a DLL every supported Windows has.
 * Wine 8 does not ship it, so a Rust program will not even load there. This
 * is the missing function, implemented with Wine's own RtlGenRandom; it is
 * only ever installed into the throwaway Wine prefix of scripts/windows-test.
 */
#include <windows.h>
#define SystemFunction036 NTAPI SystemFunction036
#include <ntsecapi.h>
#undef SystemFunction036

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
