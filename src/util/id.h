/* id: identifiers. Queue ids sort by creation time (so `queue list` and the
 * spool read in order) and carry 64 random bits so they cannot be guessed. */
#ifndef HERMOD_ID_H
#define HERMOD_ID_H
#include <stddef.h>

#define ID_LEN 20	/* characters, without the NUL */

/* id_new() writes a new id: 10 base32 characters of ms time, 10 of randomness. */
void	id_new(char out[ID_LEN + 1]);
/* id_valid() tells whether s looks like an id made by id_new(). */
int	id_valid(const char *s);
/* id_random_bytes() fills p with n bytes from the kernel's CSPRNG; fatal on failure. */
void	id_random_bytes(void *p, size_t n);

#endif
