int one_x(void)
{
    return 1;
}
